"""Face crops from photos with OpenCV's Haar cascades, the way DCGAN built its face set.

DCGAN (Radford et al., 2016, section 4.2) ran an OpenCV face detector over web photos and kept
the boxes as training faces. Here every photo is decoded (EXIF orientation applied), searched
with a Viola-Jones cascade (optionally confirmed by a second cascade inside each box), and every
face becomes a square crop with a margin, resized to ``size``. Photos that cannot be used are
never fatal: each lands in ``rejects.csv`` with its reason (a file over the archive limits or an
image over ``formats.MAX_PIXELS`` too, unread). Only when no photo gives a face does the run fail,
writing nothing.
"""

from __future__ import annotations

import csv
import logging
import multiprocessing
import os
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import ImageOps, UnidentifiedImageError
from tqdm.auto import tqdm

from ganlab import __version__
from ganlab.data.archives import Rejection, is_archive, iter_members
from ganlab.data.config import FacesParams
from ganlab.data.datasets import INFO_FILE, load_photos, read_info, write_content
from ganlab.data.formats import ImageData, ImageSplit, ImageTooLargeError, opened_image
from ganlab.errors import DataFormatError, GanlabError, ParamsError
from ganlab.files import atomic_directory, atomic_write, check_output_folder, write_json_atomic

log = logging.getLogger(__name__)

REJECT_REASONS = ("unreadable", "too-large", "corrupt", "not-an-image", "too-small", "no-face")


@dataclass
class PhotoInput:
    source: str  # path of the photo inside its dataset, folder or archive
    data: bytes | None  # None when the file was not read: `reason` and `error` say why
    label: str  # the person (folder) the photo is filed under; '' for loose photos
    error: str = ""
    reason: str = "unreadable"  # one of REJECT_REASONS, for a photo not read


@dataclass
class Face:
    source: str
    label: str
    face_index: int
    box: tuple[int, int, int, int]  # x, y, w, h in the (EXIF-rotated) photo
    neighbors: int  # detections merged into this box: the cascade's confidence
    crop_side: int  # side of the square cut from the photo before resizing
    sharpness: float  # variance of the Laplacian of the crop
    primary: bool  # the face nearest the photo's centre (LFW centres its subject)
    photo_size: tuple[int, int]
    crop: np.ndarray  # (size, size, C) uint8


def cascade_path(name: str) -> str:
    """A cascade file name from OpenCV's bundled set, or a path to one of your own."""
    if os.path.isfile(name):
        return name
    path = os.path.join(cv2.data.haarcascades, name)
    if not os.path.isfile(path):
        bundled = sorted(f for f in os.listdir(cv2.data.haarcascades) if f.endswith(".xml"))
        raise GanlabError(f"cascade {name!r} is neither a file nor one of OpenCV's: {', '.join(bundled)}")
    return path


def load_cascade(name: str) -> cv2.CascadeClassifier:
    """A loaded cascade, or a GanlabError naming the file OpenCV cannot load as one."""
    path = cascade_path(name)
    try:
        cascade = cv2.CascadeClassifier(path)
    except (cv2.error, SystemError) as exc:  # OpenCV raises SystemError for a file it cannot parse
        cause = exc.__cause__ if isinstance(exc, SystemError) and exc.__cause__ is not None else exc
        why = str(cause).strip().splitlines()[-1] if str(cause).strip() else type(cause).__name__
        raise GanlabError(f"cascade {path}: OpenCV cannot load it as a cascade XML file ({why})") from None
    if cascade.empty():
        raise GanlabError(f"cascade {path}: OpenCV read it but found no cascade in it (not a Haar/LBP cascade XML file)")
    return cascade


def iter_photo_inputs(source: str | os.PathLike) -> Iterator[PhotoInput]:
    """Photos from a fetched photo dataset, a folder or an archive; every file, readable or not."""
    source = Path(source)
    if source.is_dir() and (source / INFO_FILE).exists():
        info = read_info(source)
        if info.get("kind") != "photos":
            raise DataFormatError(f"{source}: a {info.get('kind')!r} dataset; faces needs photos (e.g. data/lfw)")
        photos = load_photos(source)
        for i in range(len(photos)):
            yield PhotoInput(photos.paths[i], photos.blob(i), photos.class_names[photos.labels[i]])
    elif source.is_dir() or (source.is_file() and is_archive(source)):
        # every visible file, image or not (each unusable one is a reject with its reason), read
        # within the archive limits; a link, FIFO or device stops the run before any is opened
        rejected: list[Rejection] = []
        for rel, data in sorted(iter_members(source, select=_visible, rejected=rejected)):
            yield PhotoInput(rel, data, _folder_label(rel))
        for r in rejected:
            yield PhotoInput(r.path, None, _folder_label(r.path), r.detail, r.reason)
    else:
        raise DataFormatError(f"{source}: not a photo dataset, a folder or an archive")


def _visible(rel: str) -> bool:
    return not any(part.startswith(".") for part in rel.split("/"))


def _folder_label(rel: str) -> str:
    label = Path(rel).parent.as_posix()
    return "" if label == "." else label


class _Reject(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def decode_photo(data: bytes | None, error: str = "", reason: str = "unreadable") -> np.ndarray:
    """(H, W) grey or (H, W, 3) RGB uint8, EXIF orientation applied; raises _Reject.

    ``data`` None is a file that was not read, for ``reason`` (``error`` the detail). An image
    whose header claims more than formats.MAX_PIXELS is rejected as too-large before decoding.
    """
    if data is None:
        raise _Reject(reason, error or "could not read the file")
    if len(data) == 0:
        raise _Reject("unreadable", "empty file (0 bytes)")
    fmt = "image"
    try:
        with opened_image(data) as opened:
            fmt = opened.format or fmt
            img = ImageOps.exif_transpose(opened)
            img.load()
    except ImageTooLargeError as exc:
        raise _Reject("too-large", exc.detail) from None
    except UnidentifiedImageError:
        raise _Reject("not-an-image", f"no image format recognises its first bytes {data[:8]!r}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise _Reject("corrupt", f"{fmt} data cannot be decoded ({exc})") from None
    if img.mode in ("L", "LA", "1", "I", "I;16", "F"):
        return np.asarray(img.convert("L"))
    rgb = np.asarray(img.convert("RGB"))
    if (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all():
        return rgb[..., 0].copy()  # stored as RGB, but grey: keep one channel
    return rgb


def square_crop(photo: np.ndarray, box: tuple[int, int, int, int], margin: float, size: int) -> tuple[np.ndarray, int]:
    """A square of side max(w, h) * (1 + 2 * margin) centred on the box, resized to ``size``.

    The square is shifted to stay inside the photo where it fits; where it cannot, the photo
    is extended by reflection rather than black bars, which a GAN would learn as content.
    """
    x, y, w, h = box
    side = int(round(max(w, h) * (1 + 2 * margin)))
    H, W = photo.shape[:2]
    cx, cy = x + w / 2, y + h / 2
    x0 = int(round(min(max(cx - side / 2, 0), max(W - side, 0)))) if side <= W else int(round(cx - side / 2))
    y0 = int(round(min(max(cy - side / 2, 0), max(H - side, 0)))) if side <= H else int(round(cy - side / 2))
    pad = max(0, -x0, -y0, x0 + side - W, y0 + side - H)
    if pad:
        photo = cv2.copyMakeBorder(photo, pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
        x0, y0 = x0 + pad, y0 + pad
    crop = photo[y0 : y0 + side, x0 : x0 + side]
    interp = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    crop = cv2.resize(crop, (size, size), interpolation=interp)
    return (crop[..., None] if crop.ndim == 2 else crop), side


def grey(image: np.ndarray) -> np.ndarray:
    """(H, W) grey from (H, W), (H, W, 1) or (H, W, 3) RGB uint8."""
    if image.ndim == 2:
        return image
    return image[..., 0] if image.shape[-1] == 1 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def sharpness(image: np.ndarray) -> float:
    """Variance of the Laplacian: high for crisp edges, low for blur."""
    return float(cv2.Laplacian(grey(image), cv2.CV_64F).var())


class FaceCropper:
    """Holds the loaded cascades; one per worker process."""

    def __init__(self, config: FacesParams) -> None:
        self.config = config
        self.cascade = load_cascade(config.cascade)
        self.confirm = load_cascade(config.confirm_cascade) if config.confirm_cascade else None

    def __call__(self, item: PhotoInput) -> list[Face] | tuple[str, str]:
        """Faces of one photo, or (reason, detail) when the photo is rejected."""
        c = self.config
        try:
            photo = decode_photo(item.data, item.error, item.reason)
        except _Reject as rej:
            return rej.reason, rej.detail
        H, W = photo.shape[:2]
        if min(H, W) < c.min_face:
            return "too-small", f"{W}x{H} is smaller than the minimum face size {c.min_face}"
        gray = grey(photo)
        boxes, neighbors = self.cascade.detectMultiScale2(
            gray, scaleFactor=c.scale_factor, minNeighbors=c.min_neighbors, minSize=(c.min_face, c.min_face)
        )
        found = [(tuple(int(v) for v in b), int(n)) for b, n in zip(boxes, np.ravel(neighbors))]
        if self.confirm is not None:
            found = [(b, n) for b, n in found if self._confirmed(gray, b)]
        if not found:
            return "no-face", f"no face of at least {c.min_face}px found in {W}x{H}"
        found.sort(key=lambda f: (f[0][1], f[0][0]))  # top to bottom, left to right
        centre = np.array([W / 2, H / 2])
        dist = [np.hypot(*(np.array([b[0] + b[2] / 2, b[1] + b[3] / 2]) - centre)) for b, _ in found]
        primary = int(np.argmin(dist))
        faces = []
        for k, (box, n) in enumerate(found):
            crop, side = square_crop(photo, box, c.margin, c.size)
            faces.append(Face(item.source, item.label, k, box, n, side, sharpness(crop), k == primary, (W, H), crop))
        return faces

    def _confirmed(self, gray: np.ndarray, box: tuple[int, int, int, int]) -> bool:
        x, y, w, h = box
        hits = self.confirm.detectMultiScale(gray[y : y + h, x : x + w], scaleFactor=1.1, minNeighbors=3)
        return len(hits) > 0


_worker: FaceCropper | None = None


def _init_worker(config: FacesParams) -> None:
    global _worker
    cv2.setNumThreads(1)  # the pool is the parallelism; OpenCV's own threads would oversubscribe
    _worker = FaceCropper(config)


def _run_worker(item: PhotoInput) -> tuple[PhotoInput, Any]:
    assert _worker is not None
    return item, _worker(item)


def is_test_person(label: str, test_fraction: float) -> bool:
    """A stable, person-disjoint split: the same person always lands on the same side."""
    return bool(label) and zlib.crc32(label.encode()) % 10_000 < test_fraction * 10_000


def crop_faces(source: str | os.PathLike, out: str | os.PathLike, config: FacesParams, workers: int = 0,
               progress: bool = True) -> dict[str, Any]:
    """Detect and crop every face under ``source`` into dataset folder ``out``.

    No face in any photo is an error that writes nothing: an empty dataset would replace ``out``
    and fail every later stage; the message counts the rejects by reason instead of rejects.csv.
    """
    if workers < 0:
        raise ParamsError(f"workers = {workers}: must be >= 0 (0 = one process per core)")
    FaceCropper(config)  # fail on a bad cascade before reading photos or starting workers
    check_output_folder(out, INFO_FILE, [source])  # before the work, not after it
    items = list(iter_photo_inputs(source))
    if not items:
        raise DataFormatError(f"{source}: holds no files")
    workers = workers or os.cpu_count() or 1
    faces: list[Face] = []
    rejects: list[tuple[str, str, str]] = []
    # spawn, not fork: OpenCV's thread pool, once used in this process, deadlocks a forked child
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers, initializer=_init_worker, initargs=(config,)) as pool:
        results = pool.imap(_run_worker, items, chunksize=16)
        for item, result in tqdm(results, total=len(items), desc="faces", unit="photo", disable=not progress):
            if isinstance(result, tuple):
                rejects.append((item.source, *result))
            else:
                faces.extend(result)
    if not faces:
        counts = {r: n for r in REJECT_REASONS if (n := sum(1 for x in rejects if x[1] == r))}
        first = "; ".join(f"{s}: {d}" for s, _, d in sorted(rejects)[:3])
        raise DataFormatError(
            f"{source}: no usable photo, no face in any of its {len(items)} files "
            f"({', '.join(f'{r} {n}' for r, n in counts.items())}; e.g. {first}); nothing written"
        )
    return _write_faces(faces, rejects, Path(out), config, source, len(items))


def _write_faces(faces: list[Face], rejects: list[tuple[str, str, str]], out: Path, config: FacesParams,
                 source: Any, n_photos: int) -> dict[str, Any]:
    channels = max((f.crop.shape[-1] for f in faces), default=1)  # grey and colour mixed: all colour
    class_names = sorted({f.label for f in faces})
    index = {c: i for i, c in enumerate(class_names)}
    splits: dict[str, list[Face]] = {"train": [], "test": []}
    for f in faces:
        splits["test" if is_test_person(f.label, config.test_fraction) else "train"].append(f)
    content = ImageData(
        {
            name: ImageSplit(
                np.stack([np.repeat(f.crop, channels // f.crop.shape[-1], axis=-1) for f in group]),
                np.asarray([index[f.label] for f in group], dtype=np.int64),
                np.asarray([face_id(f) for f in group]),
            )
            for name, group in splits.items()
            if group
        },
        class_names,
    )
    with atomic_directory(out, INFO_FILE, inputs=[source]) as tmp:
        summary = write_content(content, tmp)
        with atomic_write(tmp / "manifest.csv", "w") as fh:
            w = csv.writer(fh)
            w.writerow(["id", "split", "source", "label", "face_index", "x", "y", "w", "h", "neighbors",
                        "crop_side", "sharpness", "primary", "photo_width", "photo_height"])
            for split, group in splits.items():
                for f in group:
                    w.writerow([face_id(f), split, f.source, f.label, f.face_index, *f.box, f.neighbors,
                                f.crop_side, f"{f.sharpness:.2f}", int(f.primary), *f.photo_size])
        with atomic_write(tmp / "rejects.csv", "w") as fh:
            w = csv.writer(fh)
            w.writerow(["source", "reason", "detail"])
            w.writerows(sorted(rejects))
        reasons = {r: sum(1 for x in rejects if x[1] == r) for r in REJECT_REASONS}
        info = {
            "name": out.name,
            "description": f"face crops ({config.size}x{config.size}) from {source}",
            "variant": "haar-crops",
            "official": False,
            "source": {"input": str(source)},
            **summary,
            "curation": {"detector": {"kind": "opencv-haar", "opencv": cv2.__version__, **asdict(config)},
                         "photos": n_photos, "photos_with_faces": n_photos - len(rejects),
                         "faces": len(faces), "rejected": reasons},
            "ganlab_version": __version__,
        }
        write_json_atomic(tmp / INFO_FILE, info)
    log.info("faces: %d crops from %d photos (%d rejected: %s) -> %s", len(faces), n_photos, len(rejects),
             ", ".join(f"{k} {v}" for k, v in reasons.items() if v), out)
    return info


def face_id(f: Face) -> str:
    return f"{f.source}#{f.face_index}"
