"""Read members of tar / zip archives and plain folders without extracting them to disk.

Every member name is checked before its bytes are read: an absolute path, a ``..`` component,
a link, a device or a FIFO stops the read with :class:`UnsafeArchiveError` naming the member,
so an archive can never place anything outside the place it is read into.
"""

from __future__ import annotations

import gzip
import lzma
import os
import posixpath
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from ganlab.errors import DataFormatError, UnsafeArchiveError

ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip")


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


def iter_members(source: str | os.PathLike) -> Iterator[tuple[str, bytes]]:
    """Yield ``(relative_path, bytes)`` for every regular file in an archive or folder.

    Order is the archive's own; callers that need determinism sort what they collect.
    """
    source = Path(source)
    if source.is_dir():
        yield from _iter_folder(source)
    elif zipfile.is_zipfile(source):
        yield from _iter_zip(source)
    else:
        yield from _iter_tar(source)


def _iter_folder(root: Path) -> Iterator[tuple[str, bytes]]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fname in sorted(filenames):
            path = Path(dirpath, fname)
            yield path.relative_to(root).as_posix(), path.read_bytes()


def _iter_zip(path: Path) -> Iterator[tuple[str, bytes]]:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            for info in infos:  # check every name before reading any member
                safe_member_name(info.filename, path)
                mode = (info.external_attr >> 16) & 0o170000
                if mode == 0o120000:
                    raise UnsafeArchiveError(f"{path}: member {info.filename!r} is a symbolic link; refusing to read the archive")
            for info in infos:
                if info.is_dir():
                    continue
                yield safe_member_name(info.filename, path), zf.read(info)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise DataFormatError(f"{path}: truncated or corrupt zip archive ({exc})") from None


def _iter_tar(path: Path) -> Iterator[tuple[str, bytes]]:
    try:
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
                fh = tf.extractfile(member)
                assert fh is not None  # regular files always have data
                yield name, fh.read()
    except (tarfile.TarError, zlib.error, EOFError, gzip.BadGzipFile, lzma.LZMAError) as exc:
        raise DataFormatError(f"{path}: truncated or corrupt archive ({type(exc).__name__}: {exc})") from None
