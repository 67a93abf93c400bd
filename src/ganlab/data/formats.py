"""Readers for the official dataset formats, and the in-memory content they produce.

Readers take ``{source file name: local path}`` and return one of three content kinds:

- :class:`ImageData`: labelled splits of equally sized images, uint8 ``(N, H, W, C)``;
- :class:`PhotoData`: photos of any size kept as their original encoded bytes (faces,
  user collections), labelled by their folder;
- :class:`TextData`: splits of text lines.

Formats: idx (``.gz`` or raw), the CIFAR-10 python pickle tarball, image-folder archives
(``split/class/*.jpg``) and photo folders (``person/*.jpg`` or loose photos), text lines.

Every file is read within the limits of :mod:`ganlab.data.archives` and every image decoded within
:data:`MAX_PIXELS`, checked from its header. In the official formats a file over a limit is an
error naming it; in image and photo folders it is left out, logged, and listed in ``rejected``.
"""

from __future__ import annotations

import gzip
import io
import logging
import pickle
import posixpath
import re
import warnings
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ganlab.data import archives
from ganlab.data.archives import Rejection, iter_members, read_capped
from ganlab.errors import DataFormatError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
SPLIT_NAMES = ("train", "test", "val", "valid", "validation")
# Largest image decoded, checked from the header before any pixel is. 50 MP takes a 48 MP phone
# photo (8000x6000) and costs 150 MB as RGB, a few times that while decoding and cropping, per
# worker; a 12000x12000 scan (144 MP, 2.6 GB in `faces`) or a 50000x50000 PNG bomb of a few
# hundred bytes is rejected unread. Stricter than PIL's own warning (89 MP) and error (179 MP).
MAX_PIXELS = 50_000_000


@dataclass
class ImageSplit:
    images: np.ndarray  # (N, H, W, C) uint8
    labels: np.ndarray  # (N,) int64 class indices
    ids: np.ndarray | None = None  # (N,) str: where each image came from, when that is known


@dataclass
class ImageData:
    splits: dict[str, ImageSplit]
    class_names: list[str]
    rejected: list[Rejection] = field(default_factory=list)  # files left out, each with its reason


@dataclass
class PhotoData:
    paths: list[str]  # relative path of each photo inside its archive or folder
    blobs: list[bytes]  # the photo's original encoded bytes
    labels: np.ndarray  # (N,) int64 index into class_names (the photo's folder)
    class_names: list[str]
    rejected: list[Rejection] = field(default_factory=list)  # files left out, each with its reason


@dataclass
class TextData:
    splits: dict[str, list[str]] = field(default_factory=dict)


Content = ImageData | PhotoData | TextData


# --------------------------------------------------------------------------- idx


_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_bytes_maybe_gzip(path: Path) -> bytes:
    """Read a file, decompressing it when it starts with the gzip magic bytes; at most MAX_MEMBER_BYTES."""
    with open(path, "rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
        fh.seek(0)
        try:
            data = read_capped(gzip.GzipFile(fileobj=fh) if gzipped else fh, archives.MAX_MEMBER_BYTES)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise DataFormatError(f"{path}: truncated or corrupt gzip stream ({exc})") from None
    if data is None:
        raise DataFormatError(f"{path}: {archives.over_member_limit()}")
    return data


def read_idx(path: Path) -> np.ndarray:
    """Parse an idx file (the MNIST format): magic, big-endian dims, then the data."""
    data = read_bytes_maybe_gzip(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise DataFormatError(f"{path}: not an idx file (bad magic number {data[:4].hex()!r})")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataFormatError(f"{path}: idx header is cut short")
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(data) - header != expected:
        raise DataFormatError(
            f"{path}: idx header promises {dims} ({expected} bytes of data) but the file holds {len(data) - header}"
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)


def read_idx_dataset(
    files: Mapping[str, Path], *, splits: Mapping[str, tuple[str, str]], class_names: list[str]
) -> ImageData:
    out = {}
    for split, (images_name, labels_name) in splits.items():
        images, labels = read_idx(files[images_name]), read_idx(files[labels_name])
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DataFormatError(
                f"{files[images_name]} / {files[labels_name]}: expected (N, H, W) images and (N,) labels, "
                f"got {images.shape} and {labels.shape}"
            )
        _check_labels(labels, len(class_names), files[labels_name])
        out[split] = ImageSplit(images[..., None].astype(np.uint8), labels.astype(np.int64))
    return ImageData(out, list(class_names))


# --------------------------------------------------------------------------- CIFAR-10 python


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, strings, bytes and numpy arrays, and nothing that runs code."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # protocol-2 pickles written by Python 3 store bytes this way
    }

    def find_class(self, module: str, name: str):  # noqa: ANN201 - pickle's own signature
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: not plain data")


def _unpickle(data: bytes, where: str) -> dict:
    try:
        obj = _ArrayOnlyUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as exc:  # any failure of an untrusted pickle is a format error
        raise DataFormatError(f"{where}: not a CIFAR batch pickle ({exc})") from None
    if not isinstance(obj, dict):
        raise DataFormatError(f"{where}: expected a dict, got {type(obj).__name__}")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}


def read_cifar10_python(files: Mapping[str, Path], *, member: str) -> ImageData:
    """The official ``cifar-10-python.tar.gz``: five train batches, a test batch, batches.meta."""
    archive = files[member]
    batches: dict[str, dict] = {}

    def is_batch(name: str) -> bool:
        return posixpath.basename(name).startswith(("data_batch_", "test_batch", "batches.meta"))

    for name, data in iter_members(archive, select=is_batch):
        batches[posixpath.basename(name)] = _unpickle(data, f"{archive}:{name}")
    wanted = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]
    missing = [w for w in wanted if w not in batches]
    if missing:
        raise DataFormatError(f"{archive}: not a CIFAR-10 python archive, missing {', '.join(missing)}")
    class_names = [c.decode() if isinstance(c, bytes) else str(c) for c in batches["batches.meta"]["label_names"]]

    def split(names: list[str]) -> ImageSplit:
        data = np.concatenate([np.asarray(batches[n]["data"], dtype=np.uint8) for n in names])
        labels = np.concatenate([np.asarray(batches[n]["labels"], dtype=np.int64) for n in names])
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(labels):
            raise DataFormatError(f"{archive}: batch arrays have shape {data.shape}, expected (N, 3072)")
        _check_labels(labels, len(class_names), archive)
        # rows are channel-major (R plane, G plane, B plane): (N, 3072) -> (N, 32, 32, 3)
        return ImageSplit(np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)), labels)

    return ImageData({"train": split(wanted[:5]), "test": split(["test_batch"])}, class_names)


# --------------------------------------------------------------------------- image folders


def is_image_name(name: str) -> bool:
    """An image by its name: an image suffix, not a hidden file. Other files are never opened."""
    return name.lower().endswith(IMAGE_SUFFIXES) and not posixpath.basename(name).startswith(".")


@dataclass
class _Members:
    """The images of an archive or folder, read, and the files left out so far."""

    source: Path
    items: list[tuple[str, bytes]]  # (path below the shared top folder, bytes), sorted
    rejected: list[Rejection]  # paths as in the source
    top: str = ""  # the top folder every image shared (e.g. 'lfw/'), dropped from the items' paths

    def reject(self, name: str, reason: str, detail: str) -> None:
        log.warning("%s:%s%s: skipped, %s", self.source, self.top, name, detail)
        self.rejected.append(Rejection(self.top + name, reason, detail))

    def check_some_kept(self, kept: int) -> None:
        """Every image rejected is an error naming the folder and the first reasons."""
        if not kept:
            first = "; ".join(f"{r.path}: {r.detail}" for r in self.rejected[:3])
            raise DataFormatError(f"{self.source}: no usable image, all {len(self.rejected)} rejected ({first})")


def _image_members(source: Path) -> _Members:
    """The image files by name, read within the archive limits; the rest are never opened."""
    skipped = 0

    def select(name: str) -> bool:
        nonlocal skipped
        skipped += not is_image_name(name)
        return is_image_name(name)

    members = _Members(source, [], [])
    members.items = sorted(iter_members(source, select=select, rejected=members.rejected))
    if skipped:
        log.info("%s: skipped %d files that are not images by name", source, skipped)
    if not members.items:
        if members.rejected:
            members.check_some_kept(0)
        raise DataFormatError(f"{source}: holds no images ({', '.join(IMAGE_SUFFIXES)})")
    # Drop a single top folder shared by every image (e.g. 'lfw/' or 'cifar10/').
    while True:
        heads = {name.split("/", 1)[0] for name, _ in members.items}
        if len(heads) != 1 or not all("/" in name for name, _ in members.items):
            return members
        members.top += heads.pop() + "/"
        members.items = [(name.split("/", 1)[1], data) for name, data in members.items]


def detect_layout(paths: list[str]) -> str:
    """'splits' for ``split/class/file`` trees whose top folders are split names, else 'photos'."""
    parts = [p.split("/") for p in paths]
    if all(len(p) == 3 for p in parts) and {p[0].lower() for p in parts} <= set(SPLIT_NAMES):
        return "splits"
    return "photos"


class ImageTooLargeError(DataFormatError):
    """An image whose header claims more than MAX_PIXELS pixels; refused before it is decoded."""

    def __init__(self, where: str, detail: str) -> None:
        super().__init__(f"{where}: {detail}" if where else detail)
        self.detail = detail  # without the file's name: for rejects that name it in a column


@contextmanager
def opened_image(data: bytes, where: str = "") -> Iterator[Image.Image]:
    """``data`` opened by PIL (header only), or :class:`ImageTooLargeError` when it claims too many pixels.

    Every decode of an input image goes through here, so no file can make ganlab allocate more
    than MAX_PIXELS pixels; PIL's own decompression-bomb warning and error count as too large.
    Not-an-image and corrupt data raise PIL's own errors, which each caller words for its output.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
                if width * height > MAX_PIXELS:
                    raise ImageTooLargeError(where, _too_many_pixels(f"{width}x{height} = {width * height:,}"))
                yield img
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            claimed = re.search(r"\((\d+) pixels\)", str(exc))
            raise ImageTooLargeError(where, _too_many_pixels(f"{int(claimed[1]):,}" if claimed else "too many")) from None


def _too_many_pixels(claimed: str) -> str:
    return f"image claims {claimed} pixels, over the limit of {MAX_PIXELS:,} (MAX_PIXELS)"


def decode_image(data: bytes, where: str) -> np.ndarray:
    """Decode to uint8 (H, W, 1) for grey images or (H, W, 3) for everything else."""
    try:
        with opened_image(data, where) as img:
            img.load()
            if img.mode in ("L", "1", "I;16", "I", "F"):
                arr = np.asarray(img.convert("L"))[..., None]
            else:
                arr = np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataFormatError(f"{where}: unreadable or corrupt image ({exc})") from None
    return arr


def check_image(data: bytes, where: str) -> tuple[int, int]:
    """Decode fully (JPEGs at 1/8 scale, which still reads every byte) and return (width, height)."""
    try:
        with opened_image(data, where) as img:
            size = img.size
            img.draft(img.mode, (max(1, size[0] // 8), max(1, size[1] // 8)))
            img.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataFormatError(f"{where}: unreadable or corrupt image ({exc})") from None
    return size


def read_image_folder_dataset(files: Mapping[str, Path], *, member: str) -> ImageData:
    return read_image_folder(files[member])


def read_image_folder(source: Path) -> ImageData:
    """An archive or folder of ``split/class/*.jpg|png``; class index = sorted class folders."""
    members = _image_members(Path(source))
    if detect_layout([name for name, _ in members.items]) != "splits":
        raise DataFormatError(
            f"{source}: expected split/class/image paths with splits among {', '.join(SPLIT_NAMES)}, "
            f"found e.g. {members.items[0][0]!r}"
        )
    return _labelled_images(members)


def read_photo_folder_dataset(files: Mapping[str, Path], *, member: str) -> PhotoData:
    return read_photo_folder(files[member])


def read_photo_folder(source: Path) -> PhotoData:
    """Photos of any size, kept encoded; each labelled by its folder ('' for loose photos)."""
    return _photos(_image_members(Path(source)))


def read_any_image_folder(source: Path) -> ImageData | PhotoData:
    """A user's archive or folder: labelled images for split/class trees, else photos.

    A file over the size limits (archives.MAX_MEMBER_BYTES, MAX_PIXELS) is left out with a logged
    warning and listed in the content's ``rejected``; a corrupt image is an error naming it.
    """
    members = _image_members(Path(source))
    if detect_layout([name for name, _ in members.items]) == "splits":
        return _labelled_images(members)
    return _photos(members)


def _labelled_images(members: _Members) -> ImageData:
    # classes from every image, rejected or not: a label does not depend on which files were too large
    class_names = sorted({name.split("/")[1] for name, _ in members.items})
    index = {c: i for i, c in enumerate(class_names)}
    by_split: dict[str, tuple[list[np.ndarray], list[int]]] = {}
    shape = None
    for name, data in members.items:
        split, cls, _ = name.split("/")
        try:
            arr = decode_image(data, f"{members.source}:{members.top}{name}")
        except ImageTooLargeError as exc:
            members.reject(name, "too-large", exc.detail)
            continue
        if shape is None:
            shape = arr.shape[:2]
        elif arr.shape[:2] != shape:
            raise DataFormatError(
                f"{members.source}:{members.top}{name}: image is {arr.shape[1]}x{arr.shape[0]} but earlier images are "
                f"{shape[1]}x{shape[0]}; a labelled image folder needs one size (photos of any size "
                "belong in a plain folder layout)"
            )
        imgs, labels = by_split.setdefault(split.lower(), ([], []))
        imgs.append(arr)
        labels.append(index[cls])
    members.check_some_kept(len(by_split))
    # grey and colour mixed: promote the grey ones to three channels
    channels = max(a.shape[2] for imgs, _ in by_split.values() for a in imgs)
    splits = {}
    for split, (imgs, labels) in by_split.items():
        stacked = np.stack([np.repeat(a, channels, axis=2) if a.shape[2] != channels else a for a in imgs])
        splits[split] = ImageSplit(stacked, np.asarray(labels, dtype=np.int64))
    return ImageData(splits, class_names, members.rejected)


def _photos(members: _Members) -> PhotoData:
    kept = []
    for name, data in members.items:  # reject what cannot be decoded now, not in a later stage
        try:
            check_image(data, f"{members.source}:{members.top}{name}")
        except ImageTooLargeError as exc:
            members.reject(name, "too-large", exc.detail)
            continue
        kept.append((name, data))
    members.check_some_kept(len(kept))
    folders = [posixpath.dirname(name) for name, _ in kept]
    class_names = sorted(set(folders))
    index = {c: i for i, c in enumerate(class_names)}
    return PhotoData(
        paths=[name for name, _ in kept],
        blobs=[data for _, data in kept],
        labels=np.asarray([index[f] for f in folders], dtype=np.int64),
        class_names=class_names,
        rejected=members.rejected,
    )


# --------------------------------------------------------------------------- text


def read_text_lines(path: Path) -> list[str]:
    try:
        text = read_bytes_maybe_gzip(path).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"{path}: not UTF-8 text ({exc})") from None
    lines = text.splitlines()
    while lines and not lines[-1].strip():  # a trailing newline is not a sentence
        lines.pop()
    return lines


def read_text_dataset(files: Mapping[str, Path], *, splits: Mapping[str, str]) -> TextData:
    return TextData({split: read_text_lines(files[name]) for split, name in splits.items()})


def _check_labels(labels: np.ndarray, n_classes: int, where: object) -> None:
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise DataFormatError(f"{where}: labels span {labels.min()}..{labels.max()}, expected 0..{n_classes - 1}")
