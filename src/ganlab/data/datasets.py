"""ganlab's canonical on-disk dataset form: a few compact files plus ``dataset.json``.

- images: one ``<split>.npz`` per split with ``images`` uint8 (N, H, W, C), ``labels`` int64
  (N,) and ``class_names``;
- photos: ``photos.npz`` with the original encoded bytes of every photo concatenated in
  ``data`` (uint8), their ``offsets`` (N+1,), relative ``paths``, ``labels`` and ``class_names``;
- text: one ``<split>.txt`` per split, a line per sentence.

Later stages read datasets only through the loaders here, which check ``dataset.json`` first.
"""

from __future__ import annotations

import io
import json
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ganlab.data.formats import Content, ImageData, ImageSplit, PhotoData, TextData
from ganlab.errors import DataFormatError
from ganlab.files import atomic_write, write_text_atomic

INFO_FILE = "dataset.json"


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    """Compress only when it pays: MNIST shrinks 5x, CIFAR-10 barely (and loads 2x slower)."""
    big = max(arrays.values(), key=lambda a: a.nbytes)
    sample = np.ascontiguousarray(big).reshape(-1).view(np.uint8)[: 1 << 20].tobytes()
    worth = len(sample) > 0 and len(zlib.compress(sample, 1)) < 0.75 * len(sample)
    with atomic_write(path) as fh:
        (np.savez_compressed if worth else np.savez)(fh, **arrays)


def _split_order(split: str) -> int:
    order = ("train", "val", "valid", "validation", "test")
    return order.index(split) if split in order else len(order)


def write_content(content: Content, out: Path) -> dict[str, Any]:
    """Write ``content`` into folder ``out``; return the summary fields of dataset.json."""
    if isinstance(content, ImageData):
        files, counts, class_counts = {}, {}, {}
        shape = None
        for split in sorted(content.splits, key=_split_order):
            data = content.splits[split]
            files[split] = f"{split}.npz"
            extra = {"ids": np.asarray(data.ids)} if data.ids is not None else {}
            _save_npz(out / files[split], images=data.images, labels=data.labels,
                      class_names=np.asarray(content.class_names), **extra)
            counts[split] = int(len(data.labels))
            class_counts[split] = _per_class(data.labels, content.class_names)
            shape = list(data.images.shape[1:])
        return {"kind": "images", "files": files, "counts": counts, "class_counts": class_counts,
                "classes": content.class_names, "shape": shape}
    if isinstance(content, PhotoData):
        lengths = np.fromiter((len(b) for b in content.blobs), dtype=np.int64, count=len(content.blobs))
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        data = np.frombuffer(b"".join(content.blobs), dtype=np.uint8)
        _save_npz(out / "photos.npz", data=data, offsets=offsets, paths=np.asarray(content.paths),
                  labels=content.labels, class_names=np.asarray(content.class_names))
        return {"kind": "photos", "files": {"all": "photos.npz"}, "counts": {"all": len(content.paths)},
                "class_counts": {"all": _per_class(content.labels, content.class_names)},
                "classes": content.class_names, "shape": None}
    if isinstance(content, TextData):
        files, counts, words = {}, {}, {}
        for split in sorted(content.splits, key=_split_order):
            lines = content.splits[split]
            files[split] = f"{split}.txt"
            write_text_atomic(out / files[split], "".join(line + "\n" for line in lines))
            counts[split] = len(lines)
            words[split] = sum(len(line.split()) for line in lines)
        return {"kind": "text", "files": files, "counts": counts, "class_counts": {}, "classes": [],
                "shape": None, "words": words}
    raise TypeError(f"unknown content type {type(content).__name__}")


def _per_class(labels: np.ndarray, class_names: list[str]) -> dict[str, int]:
    counts = Counter(labels.tolist())
    return {name: int(counts.get(i, 0)) for i, name in enumerate(class_names)}


# --------------------------------------------------------------------------- loading


def read_info(root: str | Path) -> dict[str, Any]:
    path = Path(root) / INFO_FILE
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DataFormatError(f"{path}: missing; is {root} a dataset written by 'ganlab fetch'?") from None
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"{path}: not valid JSON ({exc})") from None


def _split_file(root: Path, info: dict, split: str, kind: str) -> Path:
    if info.get("kind") != kind:
        raise DataFormatError(f"{root}: holds {info.get('kind')!r} data, not {kind!r}")
    files = info.get("files", {})
    if split not in files:
        raise DataFormatError(f"{root}: no split {split!r}; it has {', '.join(files) or 'none'}")
    return root / files[split]


def load_images(root: str | Path, split: str = "train") -> tuple[ImageSplit, list[str]]:
    """Load one split of an image dataset: (images uint8 (N, H, W, C), labels), class names."""
    root = Path(root)
    path = _split_file(root, read_info(root), split, "images")
    with np.load(path, allow_pickle=False) as z:
        ids = z["ids"] if "ids" in z.files else None
        return ImageSplit(z["images"], z["labels"], ids), [str(c) for c in z["class_names"]]


@dataclass
class Photos:
    paths: list[str]
    labels: np.ndarray
    class_names: list[str]
    _data: np.ndarray
    _offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.paths)

    def blob(self, i: int) -> bytes:
        """The i-th photo's original encoded bytes."""
        return self._data[self._offsets[i] : self._offsets[i + 1]].tobytes()

    def open(self, i: int):  # noqa: ANN201 - returns a PIL image
        from PIL import Image

        return Image.open(io.BytesIO(self.blob(i)))


def load_photos(root: str | Path) -> Photos:
    root = Path(root)
    path = _split_file(root, read_info(root), "all", "photos")
    with np.load(path, allow_pickle=False) as z:
        return Photos([str(p) for p in z["paths"]], z["labels"], [str(c) for c in z["class_names"]], z["data"], z["offsets"])


def load_text(root: str | Path, split: str = "train") -> list[str]:
    root = Path(root)
    path = _split_file(root, read_info(root), split, "text")
    return path.read_text(encoding="utf-8").splitlines()
