"""Near-duplicate removal with perceptual hashes, confirmed by a second, independent check.

DCGAN removed near-duplicates from its training data by hashing (it hashed autoencoder codes
of LSUN bedrooms); perceptual hashes need no training. The steps:

1. hash every image (phash by default; dhash, whash or ahash selectable) into B bits;
2. find every pair within ``threshold`` bits with a multi-index hash search
   (:mod:`ganlab.data.hashindex`), never comparing all pairs;
3. confirm each candidate pair with an independent check, because aligned face photos share a
   layout and different people's photos often lie a few bits apart under one hash: the
   correlation of small grey thumbnails, searched over small shifts and zooms (default), or a
   second hash;
4. join confirmed pairs into clusters (union-find) and keep one image per cluster: the one
   from the largest source (face box, else image), then the sharpest, then the first;
5. leakage: how many training images have a confirmed near duplicate in an evaluation set.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import imagehash
import numpy as np
import scipy.fftpack
from PIL import Image
from tqdm.auto import tqdm

from ganlab import __version__
from ganlab.data.archives import is_archive
from ganlab.data.config import CONFIRM_METHODS, DedupParams
from ganlab.data.datasets import INFO_FILE, load_images, read_info, write_content
from ganlab.data.faces import _Reject, decode_photo, grey, iter_photo_inputs, sharpness
from ganlab.data.formats import ImageData, ImageSplit, PhotoData
from ganlab.data.hashindex import hamming, near_pairs
from ganlab.errors import DataFormatError
from ganlab.files import atomic_directory, atomic_write, check_output_folder, write_json_atomic

log = logging.getLogger(__name__)

HASHES: dict[str, Callable[..., imagehash.ImageHash]] = {
    "phash": imagehash.phash,
    "dhash": imagehash.dhash,
    "whash": imagehash.whash,
    "ahash": imagehash.average_hash,
}


@dataclass
class ImageSet:
    """Images to de-duplicate, decoded, with what the keeper rule needs."""

    ids: list[str]
    images: list[np.ndarray]  # (H, W, C) uint8, sizes may differ
    labels: list[str]
    source_size: np.ndarray  # (N,) side of the source face box, or of the image itself
    blobs: list[bytes] | None = None  # original bytes, when read from files

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, keep: np.ndarray) -> "ImageSet":
        idx = np.flatnonzero(keep)
        return ImageSet([self.ids[i] for i in idx], [self.images[i] for i in idx], [self.labels[i] for i in idx],
                        self.source_size[idx], [self.blobs[i] for i in idx] if self.blobs is not None else None)


# --------------------------------------------------------------------------- reading


def load_image_set(source: str | os.PathLike, split: str | None = None) -> tuple[ImageSet, list[tuple[str, str, str]]]:
    """An image dataset's split (default: train, else all), or a folder/archive of image files.

    Returns the set and the files that could not be used: (source, reason, detail). Files are read
    within the archive limits and decoded within formats.MAX_PIXELS; what is over them is rejected.
    """
    source = Path(source)
    if source.is_dir() and (source / INFO_FILE).exists():
        info = read_info(source)
        if info.get("kind") == "images":
            if not info.get("files"):
                raise DataFormatError(f"{source}: an image dataset with no splits (counts {info.get('counts', {})}); "
                                      "no images to de-duplicate")
            split = split or ("train" if "train" in info["files"] else next(iter(info["files"])))
            data, classes = load_images(source, split)
            ids = [str(i) for i in data.ids] if data.ids is not None else [f"{split}/{i}" for i in range(len(data.labels))]
            sizes = _face_sizes(source, ids, data.images.shape[1])
            return ImageSet(ids, list(data.images), [classes[k] for k in data.labels], sizes), []
        if info.get("kind") != "photos":
            raise DataFormatError(f"{source}: a {info.get('kind')!r} dataset has no images to de-duplicate")
    elif not source.is_dir() and not (source.is_file() and is_archive(source)):
        raise DataFormatError(f"{source}: not an image dataset, a folder or an archive")
    ids, images, labels, blobs, rejects = [], [], [], [], []
    for item in iter_photo_inputs(source):
        try:
            arr = decode_photo(item.data, item.error, item.reason)
        except _Reject as rej:
            rejects.append((item.source, rej.reason, rej.detail))
            continue
        ids.append(item.source)
        images.append(arr[..., None] if arr.ndim == 2 else arr)
        labels.append(item.label)
        blobs.append(item.data)
    sizes = np.asarray([np.sqrt(a.shape[0] * a.shape[1]) for a in images], dtype=np.float64)
    return ImageSet(ids, images, labels, sizes, blobs), rejects


def _face_sizes(root: Path, ids: list[str], side: int) -> np.ndarray:
    """crop_side from a faces manifest.csv when the dataset has one, else the image side."""
    manifest = root / "manifest.csv"
    if manifest.exists():
        import pandas as pd

        m = pd.read_csv(manifest, usecols=["id", "crop_side"]).set_index("id")["crop_side"]
        return np.asarray([float(m.get(i, side)) for i in ids])
    return np.full(len(ids), float(side))


# --------------------------------------------------------------------------- features


def _pil(image: np.ndarray) -> Image.Image:
    return Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)


def hash_bits(image: np.ndarray, method: str, hash_size: int) -> np.ndarray:
    """One perceptual hash as a flat bool array of hash_size**2 bits."""
    return HASHES[method](_pil(image), hash_size=hash_size).hash.ravel()


def phash_bits(images: list[np.ndarray], hash_size: int, progress: bool = False, block: int = 4096) -> np.ndarray:
    """(N, hash_size**2) bool: :func:`imagehash.phash` of each image, bit for bit, with its two DCTs and the median
    taken over a block of images at once instead of one image at a time (3x faster on 60,000 digits,
    benchmarks/dedup_speed.py). Only the grey conversion and the LANCZOS resize stay per image: they are PIL's, whose
    fixed-point rounding the hash depends on."""
    side = hash_size * 4  # imagehash's highfreq_factor
    out = np.empty((len(images), hash_size * hash_size), dtype=bool)
    with tqdm(total=len(images), desc="phash", unit="img", disable=not progress) as bar:
        for start in range(0, len(images), block):
            chunk = images[start : start + block]
            pixels = np.stack([np.asarray(_pil(img).convert("L").resize((side, side), Image.Resampling.LANCZOS))
                               for img in chunk])
            low = scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=1), axis=2)[:, :hash_size, :hash_size]
            low = low.reshape(len(chunk), -1)
            out[start : start + len(chunk)] = low > np.median(low, axis=1, keepdims=True)
            bar.update(len(chunk))
    return out


def hash_images(images: list[np.ndarray], method: str, hash_size: int, progress: bool = False) -> np.ndarray:
    """(N, W) uint64 words: bit k of a hash is bit k % 64 of word k // 64."""
    if method not in HASHES:
        raise ValueError(f"unknown hash {method!r}; choose one of {', '.join(HASHES)}")
    nbits = hash_size * hash_size
    nwords = -(-nbits // 64)
    out = np.zeros((len(images), nwords * 8), dtype=np.uint8)
    if method == "phash" and len(images):
        packed = np.packbits(phash_bits(images, hash_size, progress), axis=1, bitorder="little")
        out[:, : packed.shape[1]] = packed
    else:
        for i, img in enumerate(tqdm(images, desc=f"{method}", unit="img", disable=not progress)):
            packed = np.packbits(hash_bits(img, method, hash_size), bitorder="little")
            out[i, : len(packed)] = packed
    return out.view("<u8").astype(np.uint64)


class AlignedCorrelation:
    """The best normalised cross-correlation of two grey thumbnails under small shifts and zooms.

    A crop, shift or rescale of a photo moves its content by a few pixels and zooms it by up to
    ~15%; a correlation of the raw thumbnails then drops as far as that of two different
    people's aligned faces. So the centre of one thumbnail (a margin cut off) is searched in
    the other at zooms 1, 1.07 and 1.14, in both directions, and the best match counts.
    Brightness and contrast changes do not move a normalised correlation at all.
    """

    side, margin, zooms = 32, 4, (1.0, 1.07, 1.14)

    def __init__(self, images: list[np.ndarray]) -> None:
        s = self.side
        self.thumbs = []
        for img in images:
            t = cv2.resize(grey(img), (s, s), interpolation=cv2.INTER_AREA).astype(np.float32)
            zoomed = [t] + [cv2.resize(t, (round(s * z),) * 2, interpolation=cv2.INTER_LINEAR) for z in self.zooms[1:]]
            self.thumbs.append((t[self.margin : s - self.margin, self.margin : s - self.margin], zoomed))

    def __call__(self, pairs: np.ndarray) -> np.ndarray:
        """(P,) best correlation in [-1, 1] for each pair [i, j, ...]."""
        out = np.empty(len(pairs), dtype=np.float32)
        for k, (i, j) in enumerate(pairs[:, :2]):
            (ci, zi), (cj, zj) = self.thumbs[i], self.thumbs[j]
            out[k] = max(
                max(cv2.matchTemplate(z, cj, cv2.TM_CCOEFF_NORMED).max() for z in zi),
                max(cv2.matchTemplate(z, ci, cv2.TM_CCOEFF_NORMED).max() for z in zj),
            )
        return out


def sharpness_of(images: list[np.ndarray]) -> np.ndarray:
    return np.asarray([sharpness(img) for img in images])


class PairChecker:
    """Hashes plus the confirmation features of one image set; finds confirmed near pairs."""

    def __init__(self, images: list[np.ndarray], config: DedupParams, progress: bool = False) -> None:
        if config.confirm not in CONFIRM_METHODS:
            raise ValueError(f"unknown confirm {config.confirm!r}; choose one of {', '.join(CONFIRM_METHODS)}")
        self.config = config
        self.nbits = config.hash_size**2
        self.hashes = hash_images(images, config.hash, config.hash_size, progress)
        self.second = None
        if config.confirm in ("dhash", "phash"):
            self.second = hash_images(images, config.confirm, config.hash_size)
        self.ncc = AlignedCorrelation(images) if config.confirm == "ncc" else None

    def confirmed(self, pairs: np.ndarray) -> np.ndarray:
        """Bool mask over (P, >=2) candidate pairs: does the independent check agree?"""
        i, j = pairs[:, 0], pairs[:, 1]
        c = self.config
        if c.confirm == "ncc":
            return self.ncc(pairs) >= c.min_correlation
        if self.second is not None:
            return hamming(self.second[i], self.second[j]) <= c.confirm_threshold
        return np.ones(len(pairs), dtype=bool)

    def pairs(self) -> tuple[np.ndarray, int]:
        """Confirmed pairs (P, 3) [i, j, distance], and the number of candidates before confirming."""
        cand = near_pairs(self.hashes, self.config.threshold, self.nbits)
        return cand[self.confirmed(cand)], len(cand)


def clusters_from_pairs(n: int, pairs: np.ndarray) -> list[list[int]]:
    """Connected components (union-find with path halving) of size > 1, largest first."""
    parent = np.arange(n)

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs[:, :2]:
        ra, rb = find(int(a)), find(int(b))
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for x in range(n):
        groups.setdefault(find(x), []).append(x)
    return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: (-len(g), g[0]))


def choose_keepers(clusters: list[list[int]], source_size: np.ndarray, sharp: np.ndarray) -> list[int]:
    """Per cluster: the largest source face, then the sharpest, then the first."""
    return [max(c, key=lambda i: (source_size[i], sharp[i], -i)) for c in clusters]


# --------------------------------------------------------------------------- the stage


def cluster_and_keep(n: int, pairs: np.ndarray, checker: PairChecker, source_size: np.ndarray,
                     sharp: np.ndarray) -> list[list[int]]:
    """Clusters of confirmed pairs, keeper first, with chains cut.

    Union-find is transitive: A~B and B~C put A and C together even when A and C share
    nothing, and a few borderline pairs can chain several different faces into one cluster.
    So in a cluster of three or more, every member must also pass the confirm check against
    the keeper; those that do not are released as singletons (kept, not merged).
    """
    out = []
    clusters = clusters_from_pairs(n, pairs)
    for cluster, keeper in zip(clusters, choose_keepers(clusters, source_size, sharp)):
        others = [i for i in cluster if i != keeper]
        if len(others) > 1:
            with_keeper = np.array([[keeper, i] for i in others])
            others = [i for i, ok in zip(others, checker.confirmed(with_keeper)) if ok]
        if others:
            out.append([keeper, *others])
    return out


def deduplicate(images: ImageSet, config: DedupParams, progress: bool = False) -> tuple[np.ndarray, list[list[int]], dict[str, Any]]:
    """Keep-mask, clusters (keeper first) and counts for one image set."""
    checker = PairChecker(images.images, config, progress)
    pairs, n_candidates = checker.pairs()
    clusters = cluster_and_keep(len(images), pairs, checker, images.source_size, sharpness_of(images.images))
    keep = np.ones(len(images), dtype=bool)
    for cluster in clusters:
        keep[cluster[1:]] = False
    stats = {"candidate_pairs": n_candidates, "confirmed_pairs": int(len(pairs))}
    return keep, clusters, stats


def leaked(train: ImageSet, evaluation: ImageSet, config: DedupParams) -> np.ndarray:
    """Bool mask over train: has a confirmed near duplicate in ``evaluation``."""
    checker = PairChecker(train.images + evaluation.images, config)
    pairs, _ = checker.pairs()
    n = len(train)
    cross = pairs[(pairs[:, 0] < n) & (pairs[:, 1] >= n)]
    mask = np.zeros(n, dtype=bool)
    mask[cross[:, 0]] = True
    return mask


def run_dedup(source: str | os.PathLike, out: str | os.PathLike, config: DedupParams,
              eval_source: str | os.PathLike | None = None, progress: bool = True,
              report_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """De-duplicate ``source`` into dataset folder ``out`` with dedup.json and gallery.png.

    An image dataset with a test split is checked for leakage against that split unless
    ``eval_source`` names another evaluation set. With ``report_dir``, the gallery and a small
    ``metrics.json`` (counts only, for ``dvc metrics``) go there instead of into ``out``.
    """
    source, out = Path(source), Path(out)
    inputs = [p for p in (source, eval_source) if p is not None]
    check_output_folder(out, INFO_FILE, inputs)  # before the work, not after it
    train, rejects = load_image_set(source)
    if len(train) == 0:
        first = "; ".join(f"{s}: {d}" for s, _, d in rejects[:3])
        raise DataFormatError(f"{source}: no readable images ({len(rejects)} files rejected{': ' + first if first else ''})")
    evaluation = None
    if eval_source is not None:
        evaluation, eval_rejects = load_image_set(eval_source)
        if len(evaluation) == 0:
            raise DataFormatError(f"{eval_source}: no readable images to check leakage against "
                                  f"({len(eval_rejects)} files rejected)")
    elif source.is_dir() and (source / INFO_FILE).exists() and "test" in read_info(source).get("files", {}):
        evaluation, _ = load_image_set(source, "test")
        eval_source = f"{source} (test split)"

    keep, clusters, stats = deduplicate(train, config, progress)
    report: dict[str, Any] = {"n_in": len(train), "n_out": int(keep.sum()), "removed": int((~keep).sum()),
                              "hash": config.hash, "hash_size": config.hash_size, "threshold": config.threshold,
                              "confirm": config.confirm, **stats}
    kept_eval = None
    if evaluation is not None:
        eval_keep, _, _ = deduplicate(evaluation, config)
        kept_eval = evaluation.subset(eval_keep)
        kept = train.subset(keep)
        leak = leaked(kept, kept_eval, config)
        report["leakage"] = {"eval_set": str(eval_source), "eval_n": len(kept_eval),
                             "train_with_near_duplicate_in_eval": int(leak.sum()),
                             "ids": [kept.ids[i] for i in np.flatnonzero(leak)], "dropped": config.drop_leaked}
        report["eval_removed"] = int((~eval_keep).sum())
        if config.drop_leaked and leak.any():
            idx = np.flatnonzero(keep)
            keep[idx[leak]] = False
            report["n_out"] = int(keep.sum())
    report["rejected"] = [{"source": s, "reason": r, "detail": d} for s, r, d in rejects]
    report["clusters"] = [[train.ids[i] for i in c] for c in clusters]
    report["config"] = asdict(config)
    _write_dedup(train, keep, kept_eval, clusters, report, source, out, config, report_dir, inputs)
    log.info("dedup: %d -> %d images (%d clusters, %d candidate pairs, %d confirmed)%s -> %s",
             report["n_in"], report["n_out"], len(clusters), stats["candidate_pairs"], stats["confirmed_pairs"],
             f"; {report['leakage']['train_with_near_duplicate_in_eval']} leak into the eval set" if "leakage" in report else "",
             out)
    return report


def _write_dedup(train: ImageSet, keep: np.ndarray, kept_eval: ImageSet | None, clusters: list[list[int]],
                 report: dict[str, Any], source: Path, out: Path, config: DedupParams,
                 report_dir: str | os.PathLike | None, inputs: list[Path]) -> None:
    kept = train.subset(keep)
    base_info = read_info(source) if source.is_dir() and (source / INFO_FILE).exists() else {}
    with atomic_directory(out, INFO_FILE, inputs) as tmp:
        if kept.blobs is not None:  # files of any size: keep their original bytes
            classes = sorted(set(kept.labels))
            content: Any = PhotoData(kept.ids, kept.blobs, np.asarray([classes.index(x) for x in kept.labels]), classes)
        else:
            sets = {"train": kept, **({"test": kept_eval} if kept_eval is not None and kept_eval.blobs is None else {})}
            classes = sorted({x for s in sets.values() for x in s.labels})
            index = {c: i for i, c in enumerate(classes)}
            content = ImageData({name: ImageSplit(np.stack(s.images), np.asarray([index[x] for x in s.labels], dtype=np.int64),
                                                  np.asarray(s.ids)) for name, s in sets.items()}, classes)
        summary = write_content(content, tmp)
        write_json_atomic(tmp / "dedup.json", report)
        gallery_dir = Path(report_dir) if report_dir is not None else tmp
        write_gallery(train, clusters, gallery_dir / "gallery.png", config.gallery_clusters)
        if report_dir is not None:
            metrics = {k: report[k] for k in ("n_in", "n_out", "removed", "candidate_pairs", "confirmed_pairs")}
            metrics["clusters"] = len(clusters)
            if "leakage" in report:
                metrics["leaked_into_eval"] = report["leakage"]["train_with_near_duplicate_in_eval"]
            write_json_atomic(Path(report_dir) / "metrics.json", metrics)
        curation = {**base_info.get("curation", {}),
                    "dedup": {k: report[k] for k in ("hash", "hash_size", "threshold", "confirm", "n_in", "n_out", "removed")}
                    | {"clusters": len(clusters), "leakage": {k: v for k, v in report.get("leakage", {}).items() if k != "ids"}}}
        info = {"name": out.name, "description": f"{base_info.get('description', str(source))}, de-duplicated",
                "variant": f"{base_info.get('variant', 'local')}+dedup", "official": False,
                "source": {"input": str(source), "inputs": base_info.get("sha256", {})},
                **summary, "curation": curation, "ganlab_version": __version__}
        write_json_atomic(tmp / INFO_FILE, info)


def write_gallery(images: ImageSet, clusters: list[list[int]], path: Path, n_clusters: int, per_row: int = 8,
                  cell: int = 64) -> None:
    """The largest clusters, one a row, keeper first (green frame), the removed ones after (red)."""
    rows = clusters[:n_clusters]
    pad = 3
    width = per_row * (cell + pad) + pad
    height = max(1, len(rows)) * (cell + pad) + pad
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    for r, cluster in enumerate(rows):
        for k, i in enumerate(cluster[:per_row]):
            tile = _pil(images.images[i]).convert("RGB").resize((cell - 4, cell - 4))
            frame = Image.new("RGB", (cell, cell), (40, 160, 60) if k == 0 else (200, 50, 50))
            frame.paste(tile, (2, 2))
            canvas.paste(frame, (pad + k * (cell + pad), pad + r * (cell + pad)))
    with atomic_write(path) as fh:
        canvas.save(fh, format="PNG")
