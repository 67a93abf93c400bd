"""Atomic file and directory writes, and hashing.

Everything ganlab writes goes through here: write to a temporary sibling, then ``os.replace``,
so an interrupted run leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from ganlab.errors import GanlabError

CHUNK = 1 << 20  # 1 MiB: large enough for disk throughput, small enough for progress bars


class OutputRefused(GanlabError):
    """An output path holds something ganlab did not write there, is an input, or cannot be written."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _chmod_default(path: Path, directory: bool) -> None:
    """mkstemp/mkdtemp create private (0600/0700) entries; give them the usual permissions."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[BinaryIO]:
    """Open a temporary file beside ``path``; on success fsync and rename it over ``path``."""
    path = Path(path)
    _make_parent(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputRefused(f"{path}: cannot write in {path.parent} ({exc.strerror})") from None
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        _chmod_default(Path(tmp), directory=False)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _make_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputRefused(f"{path}: cannot create its folder {path.parent} ({exc.strerror})") from None


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_write(path, "w") as fh:
        fh.write(text)


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def check_output_folder(path: str | os.PathLike, marker: str, inputs: Iterable[str | os.PathLike] = ()) -> Path:
    """``path`` as an absolute path, if ganlab may replace the folder there; OutputRefused naming it if not.

    A folder may be replaced when it is missing, empty, or holds ``marker`` (the file that every folder of
    this kind that ganlab writes holds: ``dataset.json`` for a dataset) as a regular file, and it neither
    is, holds nor lies inside one of ``inputs``, nor holds the working folder. Anything else (a plain
    file, a folder of a user's documents, the input itself) is refused and left as it was.
    """
    path = Path(os.path.abspath(path))  # '.' and 'a/..' get a real name, so the temporary sibling does too
    for given in inputs:
        source = Path(os.path.abspath(given))
        if path == source or _inside(source, path):
            raise OutputRefused(f"{path}: is the input {given} or holds it; write the output somewhere else")
        if _inside(path, source):
            raise OutputRefused(f"{path}: lies inside the input {given}; write the output somewhere else")
    if _inside(Path.cwd(), path) or path == Path.cwd():
        raise OutputRefused(f"{path}: holds the folder ganlab runs in; write the output somewhere else")
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise OutputRefused(f"{path}: exists and is not a folder; ganlab replaces only folders it wrote "
                            "(choose another output path or remove it yourself)")
    if not path.exists():
        return path
    try:
        entries = sorted(os.listdir(path))
    except OSError as exc:
        raise OutputRefused(f"{path}: cannot read it ({exc.strerror})") from None
    if entries and not _is_regular(path / marker):
        shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
        raise OutputRefused(f"{path}: holds files ganlab did not write ({shown}: no {marker}); choose another "
                            "output path or remove them yourself")
    return path


def _inside(child: Path, parent: Path) -> bool:
    return parent != child and parent in child.parents


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike, marker: str, inputs: Iterable[str | os.PathLike] = ()) -> Iterator[Path]:
    """Yield an empty temporary directory that replaces ``path`` once the block succeeds.

    ``path`` is first checked with :func:`check_output_folder` (``marker``: the file every folder of this
    kind holds, which the block must write): ganlab replaces only what it wrote. On any exception the
    temporary directory is removed and ``path`` is left as it was.
    """
    path = check_output_folder(path, marker, inputs)
    _make_parent(path)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    except OSError as exc:
        raise OutputRefused(f"{path}: cannot write in {path.parent} ({exc.strerror})") from None
    try:
        yield tmp
        if not _is_regular(tmp / marker):  # a writer's bug: the next run could not tell the folder is ganlab's
            raise AssertionError(f"{path}: the output lacks its marker {marker}")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _chmod_default(tmp, directory=True)
    old = None
    if path.exists():
        old = path.with_name(f".{path.name}.old-{os.getpid()}")
        os.replace(path, old)
    os.replace(tmp, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def folder_lock(path: str | os.PathLike, doing: str) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` (created if missing) for the block; it records this
    process's id. A second process is refused at once with OutputRefused naming the holder's pid. The lock
    (flock) dies with its process, so a killed run never leaves a folder locked."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666 & ~_umask())
    except OSError as exc:
        raise OutputRefused(f"{path}: cannot create the lock file ({exc.strerror})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise OutputRefused(f"{path.parent}: process {holder} is {doing} in it (lock {path}); "
                                "wait for it to finish, or stop it") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock; the file stays, naming the last holder


def hash_file(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()
