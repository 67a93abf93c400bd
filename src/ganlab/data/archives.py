"""Read members of tar / zip archives and plain folders without extracting them to disk.

Every member is checked before its bytes are read: an absolute path, a ``..`` component, a link,
a device, a FIFO or a socket stops the read with :class:`UnsafeArchiveError` naming the member, so
an archive or folder can never make ganlab read anything outside it, or open something that blocks
(a named pipe) or never ends (``/dev/zero``). Folders are held to the archives' rule: every entry is
``lstat``-ed before anything is opened, and a symbolic link anywhere in the folder refuses the whole
folder, whether or not its target stays inside (copy the files in, e.g. ``cp -rL``, to use them).

Bytes are read in chunks and counted, never trusted from a header (a zip's sizes can lie): a member
stops at :data:`MAX_MEMBER_BYTES` and a whole archive or folder at :data:`MAX_TOTAL_BYTES` of
decompressed bytes, so a 2.6 MB zip whose member inflates to 2.5 GiB is refused on its declared
size without being read, and one that lies about the size costs at most MAX_MEMBER_BYTES.
"""

from __future__ import annotations

import gzip
import logging
import lzma
import os
import posixpath
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO, NamedTuple

from ganlab.errors import DataFormatError, UnsafeArchiveError

log = logging.getLogger(__name__)

ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip")

# One member (file) of an archive or folder, decompressed. The largest real member ganlab reads is
# MNIST's train-images idx (47 MB decompressed; a CIFAR-10 python batch is 31 MB, a photo 5-20 MB),
# so 256 MiB leaves 5x room while a bomb's multi-GB member stops after 256 MiB read.
MAX_MEMBER_BYTES = 256 * 2**20
# One archive or folder, all members read together. What is read is held in memory until the
# dataset is written, so this bounds a fetch's memory: 8 GiB is 5x CelebA's aligned photos (1.4 GB,
# the largest classic face set) and over 40x the largest mirror archive (CIFAR-10 python, 185 MB).
MAX_TOTAL_BYTES = 8 * 2**30
_CHUNK_BYTES = 2**20

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


class Rejection(NamedTuple):
    """A member that was listed but not read; the read went on without it."""

    path: str  # the member's path inside its archive or folder
    reason: str  # "too-large" (over MAX_MEMBER_BYTES) or "unreadable" (the OS refused it)
    detail: str  # one line: the value and the limit, or the OS error


def is_archive(path: str | os.PathLike) -> bool:
    return str(path).lower().endswith(ARCHIVE_SUFFIXES)


def safe_member_name(name: str, archive: str | os.PathLike) -> str:
    """Return ``name`` as a clean relative POSIX path, or raise if it could escape the target."""
    unified = name.replace("\\", "/")
    if unified.startswith("/") or (len(unified) > 1 and unified[1] == ":"):
        raise UnsafeArchiveError(f"{archive}: member {name!r} has an absolute path; refusing to read the archive")
    parts = PurePosixPath(unified).parts
    if ".." in parts:
        raise UnsafeArchiveError(f"{archive}: member {name!r} would land outside the target ('..'); refusing to read the archive")
    clean = posixpath.normpath(unified)
    return "" if clean == "." else clean


def read_capped(fh: BinaryIO, limit: int) -> bytes | None:
    """All of ``fh`` in chunks, or None as soon as it yields more than ``limit`` bytes (the rest unread)."""
    chunks, n = [], 0
    while chunk := fh.read(min(_CHUNK_BYTES, limit + 1 - n)):
        chunks.append(chunk)
        n += len(chunk)
        if n > limit:
            return None
    return b"".join(chunks)


def over_member_limit(declared: int | None = None) -> str:
    """Why a member was not read whole: its size (as declared, else as read) against MAX_MEMBER_BYTES."""
    if declared is not None:
        return f"{declared:,} bytes, over the per-file limit of {MAX_MEMBER_BYTES:,} bytes (MAX_MEMBER_BYTES)"
    return f"over {MAX_MEMBER_BYTES:,} bytes when read, the per-file limit (MAX_MEMBER_BYTES)"


# A member as the listings see it: its clean name, its size as declared (None: unknown), and how to
# open it; opening happens only for members the caller wants and whose declared size fits.
_Listed = tuple[str, int | None, Callable[[], BinaryIO]]


def iter_members(
    source: str | os.PathLike,
    *,
    select: Callable[[str], bool] | None = None,
    rejected: list[Rejection] | None = None,
) -> Iterator[tuple[str, bytes]]:
    """Yield ``(relative_path, bytes)`` for every regular file in an archive or folder.

    ``select(name)`` picks the members to read; the others are type-checked but never opened, so
    a 1.5 GB video beside the photos costs nothing. A member over :data:`MAX_MEMBER_BYTES` (or one
    the OS will not let us read) is an error naming it, unless ``rejected`` is given: then it is
    logged, appended there and skipped. More than :data:`MAX_TOTAL_BYTES` in all is always an error.
    Order is the archive's own (a folder's is sorted); callers that need determinism sort.
    """
    source = Path(source)
    if source.is_dir():
        listing, kind = _folder_listing(source), "folder"
    elif zipfile.is_zipfile(source):
        listing, kind = _zip_listing(source), "zip archive"
    else:
        listing, kind = _tar_listing(source), "archive"
    total = 0
    try:
        for name, declared, open_member in listing:
            if select is not None and not select(name):
                continue
            if declared is not None and declared > MAX_MEMBER_BYTES:  # refused on its claim, unread
                data, problem = None, Rejection(name, "too-large", over_member_limit(declared))
            else:
                try:
                    with open_member() as fh:
                        data = read_capped(fh, MAX_MEMBER_BYTES)
                    problem = Rejection(name, "too-large", over_member_limit())
                except OSError as exc:
                    if kind != "folder":  # a corrupt compressed stream (gzip.BadGzipFile), not a refusal
                        raise
                    data, problem = None, Rejection(name, "unreadable", f"{type(exc).__name__}: {exc.strerror or exc}")
            if data is None:
                if rejected is None:
                    raise DataFormatError(f"{source}:{name}: {problem.detail}")
                log.warning("%s:%s: skipped, %s", source, name, problem.detail)
                rejected.append(problem)
                continue
            total += len(data)
            if total > MAX_TOTAL_BYTES:
                raise DataFormatError(
                    f"{source}: its files hold more than {MAX_TOTAL_BYTES:,} bytes decompressed (reached at {name!r}), "
                    f"over the limit for one archive or folder (MAX_TOTAL_BYTES); split it into smaller ones"
                )
            yield name, data
    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, gzip.BadGzipFile, lzma.LZMAError) as exc:
        raise DataFormatError(f"{source}: truncated or corrupt {kind} ({type(exc).__name__}: {exc})") from None


def _folder_listing(root: Path, rel: str = "") -> Iterator[_Listed]:
    """Every regular file under ``root`` in sorted order; a link or special file refuses the folder."""
    folder = root / rel
    try:
        names = sorted(os.listdir(folder))
    except OSError as exc:
        raise DataFormatError(f"{folder}: cannot list the folder ({exc.strerror or exc})") from None
    for name in names:
        member = f"{rel}/{name}" if rel else name
        path = folder / name
        try:
            st = os.lstat(path)  # never stat() or open() first: a FIFO blocks, a link leads anywhere
        except OSError as exc:
            raise DataFormatError(f"{root}: cannot read {member!r} ({exc.strerror or exc})") from None
        if stat.S_ISDIR(st.st_mode):
            yield from _folder_listing(root, member)
        elif stat.S_ISREG(st.st_mode):
            yield member, st.st_size, _opener(path, st)
        elif stat.S_ISLNK(st.st_mode):
            raise UnsafeArchiveError(
                f"{root}: {member!r} is a symbolic link to {os.readlink(path)!r}; refusing to read the folder "
                "(links are refused as in archives; copy the files in, e.g. cp -rL)"
            )
        else:
            raise UnsafeArchiveError(
                f"{root}: {member!r} is a {_file_kind(st.st_mode)}, not a regular file; refusing to read the folder"
            )


def _file_kind(mode: int) -> str:
    kinds = ((stat.S_ISFIFO, "named pipe (FIFO)"), (stat.S_ISCHR, "character device"),
             (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket"))
    return next((name for test, name in kinds if test(mode)), f"special file (mode {mode:o})")


def _opener(path: Path, listed: os.stat_result) -> Callable[[], BinaryIO]:
    def open_regular() -> BinaryIO:
        # O_NOFOLLOW and O_NONBLOCK: if the entry was swapped for a link or a FIFO since it was
        # listed, opening neither follows nor blocks, and the check below refuses it.
        fd = os.open(path, _OPEN_FLAGS)
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (listed.st_dev, listed.st_ino):
            os.close(fd)
            raise UnsafeArchiveError(f"{path}: changed from a regular file while being read; refusing to read it")
        return os.fdopen(fd, "rb")

    return open_regular


def _zip_listing(path: Path) -> Iterator[_Listed]:
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        for info in infos:  # check every name before reading any member
            safe_member_name(info.filename, path)
            mode = (info.external_attr >> 16) & 0o170000
            if mode == 0o120000:
                raise UnsafeArchiveError(f"{path}: member {info.filename!r} is a symbolic link; refusing to read the archive")
        for info in infos:
            if not info.is_dir():
                # file_size is only a claim: read_capped counts what the stream really yields
                yield safe_member_name(info.filename, path), info.file_size, _zip_opener(zf, info)


def _zip_opener(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[], BinaryIO]:
    return lambda: zf.open(info)


def _tar_listing(path: Path) -> Iterator[_Listed]:
    with tarfile.open(path, "r:*") as tf:
        # Streamed: members are checked as they come, each before its bytes are read.
        for member in tf:
            name = safe_member_name(member.name, path)
            if member.issym() or member.islnk():
                raise UnsafeArchiveError(
                    f"{path}: member {member.name!r} is a link to {member.linkname!r}; refusing to read the archive"
                )
            if member.isdir():
                continue
            if not member.isfile():
                raise UnsafeArchiveError(f"{path}: member {member.name!r} is not a regular file; refusing to read the archive")
            yield name, member.size, _tar_opener(tf, member)


def _tar_opener(tf: tarfile.TarFile, member: tarfile.TarInfo) -> Callable[[], BinaryIO]:
    return lambda: tf.extractfile(member)  # a regular member always has a file object
