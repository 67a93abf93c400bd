"""Streaming HTTP downloads that resume, verify and land atomically.

A download streams into ``<dest>.part`` with a progress bar. A connection that drops mid-way
is retried with an HTTP ``Range`` request from where it stopped (or from scratch when the
server ignores ranges); a ``.part`` left by an interrupted run is resumed the same way. Only
a file whose checksum passes is renamed to ``dest``; one that fails is deleted and reported.
A host that cannot be reached at all fails at once: no retries, nothing written.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import logging
import os
import socket
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm.auto import tqdm

from ganlab import __version__
from ganlab.errors import ChecksumError, DataFormatError, FetchError
from ganlab.files import CHUNK

if TYPE_CHECKING:  # sources imports the readers; only the type is needed here
    from ganlab.data.sources import Checksum

log = logging.getLogger(__name__)

USER_AGENT = f"ganlab/{__version__} (+dataset fetch)"


class _Unreachable(FetchError):
    """The host could not be reached or refused the file: trying again will not help."""


def verify(path: Path, checksum: Checksum) -> str:
    """Check ``path`` against ``checksum``; return the digest on success, raise otherwise."""
    h = hashlib.new(checksum.algorithm)
    with open(path, "rb") as fh:
        if checksum.of == "gunzip":
            try:
                with gzip.GzipFile(fileobj=fh) as gz:
                    while chunk := gz.read(CHUNK):
                        h.update(chunk)
            except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
                raise DataFormatError(f"{path}: truncated or corrupt gzip stream ({exc})") from None
        else:
            while chunk := fh.read(CHUNK):
                h.update(chunk)
    actual = h.hexdigest()
    if actual != checksum.digest:
        what = "decompressed bytes" if checksum.of == "gunzip" else "file"
        raise ChecksumError(
            f"{path}: checksum mismatch: {checksum.algorithm} of {what} is {actual}, expected {checksum.digest}"
        )
    return actual


def download(
    url: str,
    dest: Path,
    checksum: Checksum | None = None,
    *,
    timeout: float = 30.0,
    retries: int = 3,
    backoff: float = 1.0,
    progress: bool = True,
) -> Path:
    """Download ``url`` to ``dest`` (resuming ``dest.part``), verify it, then rename into place."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    attempt = 0
    while True:
        try:
            complete = _fetch_into(url, part, timeout=timeout, progress=progress)
        except _Unreachable:
            raise
        except (OSError, http.client.HTTPException) as exc:  # dropped mid-transfer: resume
            complete, reason = False, f"{type(exc).__name__}: {exc}"
        else:
            reason = "the connection closed before the promised length"
        if complete:
            break
        attempt += 1
        have = part.stat().st_size if part.exists() else 0
        if attempt > retries:
            raise FetchError(
                f"download of {url} stopped at {have} bytes after {retries} retries ({reason}); "
                f"the partial file is kept at {part} and the next run resumes from it"
            )
        wait = backoff * 2 ** (attempt - 1)
        log.warning("%s: %s; resuming from byte %d in %.1fs (retry %d/%d)", url, reason, have, wait, attempt, retries)
        time.sleep(wait)
    if checksum is not None:
        try:
            verify(part, checksum)
        except (ChecksumError, DataFormatError) as exc:
            part.unlink(missing_ok=True)
            raise ChecksumError(f"downloaded from {url}: {exc}; the bad file was deleted") from None
    os.replace(part, dest)
    return dest


def _fetch_into(url: str, part: Path, *, timeout: float, progress: bool) -> bool:
    """One request; append to ``part``. True when the whole body arrived."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - http(s) URLs from our registry
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # we already hold everything the server has
            return True
        raise _Unreachable(f"{url}: the server answered HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, socket.timeout, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise _Unreachable(f"could not reach {url} ({reason})") from None
    with response:
        status = getattr(response, "status", 200)
        length = response.headers.get("Content-Length")
        if offset and status == 206:
            mode, start = "ab", offset
        else:
            if offset:
                log.info("%s ignores range requests; restarting from byte 0", url)
            mode, start = "wb", 0
        total = start + int(length) if length is not None else None
        received = start
        with open(part, mode) as fh, tqdm(
            total=total, initial=start, unit="B", unit_scale=True, desc=part.name.removesuffix(".part"),
            disable=not progress, leave=False,
        ) as bar:
            while chunk := response.read(CHUNK):
                fh.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    return total is None or received >= total
