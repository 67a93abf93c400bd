"""How well de-duplication works on real face crops: injected near duplicates and false merges.

Real face crops get near duplicates made the ways copies arise in the wild (JPEG re-encoding at
quality 40-70, rescaling by 0.8-1.25, brightness or contrast shifts up to 10%, crops or shifts of
a few pixels). Over a grid of settings this measures

- recall: the share of injected duplicates that end up in their original's cluster;
- false merges: the share of real photos that end up in a cluster with a photo of a different
  person (LFW names the person in every photo). LFW files a few identical photos under two
  names; pairs whose crops are pixel-identical up to JPEG noise count as true duplicates.

Used by ``benchmarks/dedup_quality.py`` (the full grid, which justifies the defaults) and by the
tests (a smaller sample at the defaults).
"""

from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ganlab.data.config import DedupParams
from ganlab.data.datasets import load_images
from ganlab.data.dedup import PairChecker, cluster_and_keep, sharpness_of
from ganlab.errors import DataFormatError
from ganlab.data.hashindex import hamming, near_pairs

TRANSFORMS = ("jpeg", "rescale", "brightness", "contrast", "crop")


def primary_crops(root: Path) -> tuple[np.ndarray, list[str]]:
    """The face nearest each photo's centre (its named subject) from a faces-stage output."""
    import pandas as pd

    manifest = pd.read_csv(root / "manifest.csv")
    primary = set(manifest.loc[manifest.primary == 1, "id"])
    images, labels = [], []
    for split in ("train", "test"):
        try:
            data, classes = load_images(root, split)
        except DataFormatError:  # a split may be empty
            continue
        for img, label, face in zip(data.images, data.labels, data.ids):
            if face in primary:
                images.append(img)
                labels.append(classes[label])
    return np.stack(images), labels


def near_duplicate(image: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """A near duplicate of an (H, W, C) uint8 image, made one way."""
    h, w = image.shape[:2]
    if kind == "jpeg":
        buf = io.BytesIO()
        pil = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
        pil.save(buf, format="JPEG", quality=int(rng.integers(40, 71)))
        out = np.asarray(Image.open(buf))
    elif kind == "rescale":
        s = rng.uniform(0.8, 1.25)
        out = cv2.resize(image, (max(8, round(w * s)), max(8, round(h * s))), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    elif kind == "brightness":
        out = np.clip(image.astype(np.float32) + rng.uniform(-0.1, 0.1) * 255, 0, 255).astype(np.uint8)
    elif kind == "contrast":
        f = 1 + rng.uniform(-0.1, 0.1)
        mean = image.mean()
        out = np.clip((image.astype(np.float32) - mean) * f + mean, 0, 255).astype(np.uint8)
    elif kind == "crop":
        # cut up to 4 px from each side (a crop, or with unequal sides a shift), back to full size
        t, b, l, r = (int(v) for v in rng.integers(0, 5, size=4))
        out = cv2.resize(image[t : h - b, l : w - r], (w, h), interpolation=cv2.INTER_CUBIC)
    else:
        raise ValueError(f"unknown transform {kind!r}; choose one of {', '.join(TRANSFORMS)}")
    return out[..., None] if out.ndim == 2 else out


@dataclass
class QualitySet:
    images: list[np.ndarray]  # the real crops first, then the injected duplicates
    labels: list[str]  # the person of each
    n_real: int
    injected: np.ndarray  # (K, 2): [index of the original, index of its duplicate]
    kinds: list[str]  # the transform of each injected duplicate


def build_quality_set(images: np.ndarray, labels: list[str], n_dups: int, seed: int = 0) -> QualitySet:
    """Every real crop, plus one near duplicate for each of ``n_dups`` of them (transforms in turn)."""
    rng = np.random.default_rng(seed)
    n = len(images)
    chosen = rng.choice(n, size=min(n_dups, n), replace=False)
    all_images = list(images)
    all_labels = list(labels)
    injected, kinds = [], []
    for k, i in enumerate(chosen):
        kind = TRANSFORMS[k % len(TRANSFORMS)]
        all_images.append(near_duplicate(images[i], kind, rng))
        all_labels.append(labels[i])
        injected.append((int(i), len(all_images) - 1))
        kinds.append(kind)
    return QualitySet(all_images, all_labels, n, np.asarray(injected), kinds)


def identical_pairs(images: list[np.ndarray], pairs: np.ndarray, max_mean_abs: float = 3.0) -> np.ndarray:
    """Bool mask: are the two images of each pair the same picture (same size, mean |diff| small)?"""
    out = np.zeros(len(pairs), dtype=bool)
    for k, (i, j) in enumerate(pairs[:, :2]):
        a, b = images[i], images[j]
        out[k] = a.shape == b.shape and np.abs(a.astype(np.int16) - b).mean() <= max_mean_abs
    return out


@dataclass
class Quality:
    recall: float  # injected duplicates found
    false_merge_rate: float  # real photos in a cluster with another person's photo
    recall_by_kind: dict[str, float]
    precision: float  # removed images that show the same person as their cluster's keeper
    clusters: int
    candidate_pairs: int
    confirmed_pairs: int


def evaluate(qs: QualitySet, checker: PairChecker, config: DedupParams, ok: np.ndarray) -> Quality:
    """Score the clusters made from confirmed pairs ``ok`` under ``config``."""
    old = checker.config
    checker.config = config
    try:
        sizes = np.full(len(qs.images), 1.0)
        clusters = cluster_and_keep(len(qs.images), ok, checker, sizes, sharpness_of(qs.images))
    finally:
        checker.config = old
    cluster_of = np.full(len(qs.images), -1)
    for c, members in enumerate(clusters):
        cluster_of[members] = c
    o, d = qs.injected[:, 0], qs.injected[:, 1]
    found = (cluster_of[o] >= 0) & (cluster_of[o] == cluster_of[d])
    by_kind = {k: float(found[[x == k for x in qs.kinds]].mean()) for k in sorted(set(qs.kinds))}
    # real photos in a cluster holding another person, not counting LFW's identical photos
    # filed under two names: join those first, as the true duplicates they are
    same_picture = ok[(ok[:, 0] < qs.n_real) & (ok[:, 1] < qs.n_real)]
    same_picture = same_picture[identical_pairs(qs.images, same_picture)]
    alias: dict[str, str] = {}
    for i, j in same_picture[:, :2]:
        alias[qs.labels[j]] = alias.get(qs.labels[i], qs.labels[i])
    person = [alias.get(x, x) for x in qs.labels]
    bad = sum(sum(1 for i in members if i < qs.n_real) for members in clusters if len({person[i] for i in members}) > 1)
    removed = [(members[0], i) for members in clusters for i in members[1:]]  # keeper first
    precision = sum(person[k] == person[i] for k, i in removed) / len(removed) if removed else 1.0
    return Quality(float(found.mean()), bad / qs.n_real, by_kind, precision, len(clusters), 0, len(ok))


def sweep(qs: QualitySet, base: DedupParams, thresholds: list[int], confirms: list[dict]) -> list[tuple[dict, Quality]]:
    """Every (threshold, confirm setting) pair. Hashes, candidates at the largest threshold and
    each confirm method's scores are computed once and filtered per setting."""
    rows = []
    by_method: dict[str, list[dict]] = {}
    for conf in confirms:
        by_method.setdefault(conf["confirm"], []).append(conf)
    for method, confs in by_method.items():
        checker = PairChecker(qs.images, dataclasses.replace(base, confirm=method, threshold=max(thresholds)))
        pool = near_pairs(checker.hashes, max(thresholds), checker.nbits)
        if method == "ncc":
            score, key = checker.ncc(pool), "min_correlation"
        elif checker.second is not None:
            score, key = -hamming(checker.second[pool[:, 0]], checker.second[pool[:, 1]]), "confirm_threshold"
        else:
            score, key = np.zeros(len(pool)), None
        for conf in confs:
            cfg = dataclasses.replace(base, **conf)
            bar = {"min_correlation": cfg.min_correlation, "confirm_threshold": -cfg.confirm_threshold, None: 0.0}[key]
            for t in thresholds:
                ok = pool[(pool[:, 2] <= t) & (score >= bar)]
                q = evaluate(qs, checker, dataclasses.replace(cfg, threshold=t), ok)
                q.candidate_pairs = int((pool[:, 2] <= t).sum())
                rows.append(({"threshold": t, **conf}, q))
    return rows
