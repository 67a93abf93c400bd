"""Does a generator copy its training images? Two checks, reusing the face curation's tools.

1. **Perceptual-hash copies**: the share of generated images whose hash lies within the
   de-duplication threshold (params ``dedup``) of some training image's hash, and of those the
   share that the curation's aligned thumbnail correlation also confirms (``min_correlation``):
   the same test that decided which face crops were duplicates. On digits the hash alone is
   loose (every digit is a bright stroke on black), which is why both shares are reported.
2. **Nearest training images** in the evaluator's feature space: a grid of the generated samples
   closest to the training set beside their nearest training images, and the median distance of
   a generated sample to its nearest training image divided by that of a held-out real image (a
   ratio well below 1 means samples sit closer to the training set than new real data does).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganlab.data.dedup import HASHES, AlignedCorrelation, hash_images
from ganlab.errors import GanlabError
from ganlab.images import save_grid

log = logging.getLogger(__name__)


def _nhwc_list(images: torch.Tensor | np.ndarray) -> list[np.ndarray]:
    """uint8 images (N, C, H, W) tensor or (N, H, W, C) array as a list of (H, W, C) arrays."""
    if torch.is_tensor(images):
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise GanlabError(f"expected uint8 images (N, C, H, W); got {images.dtype} {tuple(images.shape)}")
        images = images.permute(0, 2, 3, 1).numpy()
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise GanlabError(f"expected uint8 images (N, H, W, C); got {images.dtype} {images.shape}")
    return list(images)


def perceptual_hashes(images: torch.Tensor | np.ndarray, method: str, hash_size: int) -> np.ndarray:
    """(N, W) uint64 hash words of uint8 images (ganlab.data.dedup.hash_images)."""
    if method not in HASHES:
        raise GanlabError(f"unknown hash {method!r} (params dedup.hash); choose one of {', '.join(HASHES)}")
    return hash_images(_nhwc_list(images), method, hash_size)


def nearest_hashes(query: np.ndarray, bank: np.ndarray, block: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """For each query hash, the Hamming distance to its nearest hash in ``bank`` and that hash's
    index (the first on ties). Blockwise XOR and popcount: 10,000 x 60,000 64-bit hashes in seconds."""
    query, bank = np.asarray(query, dtype=np.uint64), np.asarray(bank, dtype=np.uint64)
    if query.ndim != 2 or bank.ndim != 2 or query.shape[1] != bank.shape[1]:
        raise GanlabError(f"hash arrays must be (N, W) with one W; got {query.shape} and {bank.shape}")
    if len(bank) == 0:
        raise GanlabError("no training hashes to compare with")
    dist = np.empty(len(query), dtype=np.int64)
    index = np.empty(len(query), dtype=np.int64)
    # word by word, in the smallest integer type that holds the distance: uint8 for one word (hash_size <= 8), else
    # uint16 (65,535 bits). The (block, bank) arrays are then 8x smaller than int64 ones, which is most of the time
    words = [np.ascontiguousarray(bank[:, w]) for w in range(bank.shape[1])]
    for start in range(0, len(query), block):
        q = query[start : start + block]
        d = np.bitwise_count(q[:, 0, None] ^ words[0][None, :])
        if len(words) > 1:
            d = d.astype(np.uint16)
            for w in range(1, len(words)):
                d += np.bitwise_count(q[:, w, None] ^ words[w][None, :])
        i = d.argmin(1)
        index[start : start + block] = i
        dist[start : start + block] = d[np.arange(len(d)), i]
    return dist, index


def hash_copies(generated: torch.Tensor | np.ndarray, train: np.ndarray, train_hashes: np.ndarray, *,
                method: str, hash_size: int, threshold: int, min_correlation: float) -> dict[str, Any]:
    """Check 1 (module docstring): shares of ``generated`` within ``threshold`` bits of a training
    hash, and confirmed by the aligned correlation as well; with the indices of the confirmed ones."""
    if len(train) != len(train_hashes):
        raise GanlabError(f"{len(train)} training images but {len(train_hashes)} training hashes: the hashes are "
                          "of another data version; rebuild them (stage reference@<dataset>)")
    if len(generated) == 0:
        raise GanlabError("no generated images to check for copies")
    gen_hashes = perceptual_hashes(generated, method, hash_size)
    dist, index = nearest_hashes(gen_hashes, train_hashes)
    near = np.flatnonzero(dist <= threshold)
    gen_list = _nhwc_list(generated)
    correlation = np.zeros(0, dtype=np.float32)
    if len(near):
        pairs = np.stack([np.arange(len(near)), len(near) + np.arange(len(near))], 1)
        checker = AlignedCorrelation([gen_list[i] for i in near] + [train[index[i]] for i in near])
        correlation = checker(pairs)
    confirmed = near[correlation >= min_correlation]
    n = len(gen_hashes)
    return {
        "share": float(len(near) / n), "confirmed_share": float(len(confirmed) / n),
        "n_within_threshold": int(len(near)), "n_confirmed": int(len(confirmed)),
        "confirmed": [{"sample": int(i), "train_index": int(index[i]), "bits": int(dist[i])} for i in confirmed[:50]],
        "median_bits_to_nearest": float(np.median(dist)),
        "protocol": {"hash": method, "hash_size": hash_size, "threshold_bits": threshold,
                     "min_correlation": min_correlation, "n_generated": n, "n_train": int(len(train_hashes)),
                     "confirm": "best normalised correlation of 32 px grey thumbnails under shifts and zooms "
                                "(ganlab.data.dedup.AlignedCorrelation), as the face curation"},
    }


def nearest_neighbours(query: np.ndarray, bank: np.ndarray, k: int = 1, block: int = 1024
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(distances (N, k), indices (N, k)) of each query row's k nearest ``bank`` rows (euclidean),
    nearest first; blockwise so 10,000 x 60,000 fits in memory."""
    q, b = torch.as_tensor(np.asarray(query, dtype=np.float32)), torch.as_tensor(np.asarray(bank, dtype=np.float32))
    if q.dim() != 2 or b.dim() != 2 or q.shape[1] != b.shape[1]:
        raise GanlabError(f"feature arrays must be (N, D) with one D; got {tuple(q.shape)} and {tuple(b.shape)}")
    if len(q) == 0:
        raise GanlabError("no query features to find nearest neighbours for")
    if not (torch.isfinite(q).all() and torch.isfinite(b).all()):
        raise GanlabError("features hold NaN or infinite values; nearest neighbours would be arbitrary")
    if not 1 <= k <= len(b):
        raise GanlabError(f"k = {k}: must lie in 1..{len(b)} (the training features)")
    dists, idx = [], []
    b_sq = (b * b).sum(1)
    for start in range(0, len(q), block):
        x = q[start : start + block]
        d2 = ((x * x).sum(1, keepdim=True) + b_sq[None, :] - 2.0 * x @ b.T).clamp_min_(0)
        d, i = d2.topk(k, dim=1, largest=False)
        dists.append(d.sqrt())
        idx.append(i)
    return torch.cat(dists).numpy(), torch.cat(idx).numpy()


def heldout_distances(heldout_features: np.ndarray, train_features: np.ndarray) -> dict[str, Any]:
    """Check 2's yardstick: the median distance of held-out real images to their nearest training image. The same
    for every run on a dataset (the same images, the same bank), so stage reference@<dataset> computes it once and
    each metrics@<run> reads it (ganlab.eval.pipeline)."""
    d_real, _ = nearest_neighbours(heldout_features, train_features, 1)
    return {"median_distance": float(np.median(d_real[:, 0])), "n": int(len(heldout_features)),
            "n_train": int(len(train_features))}


def neighbour_summary(gen_features: np.ndarray, heldout: dict[str, Any], train_features: np.ndarray,
                      k: int = 1) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Check 2's numbers: median nearest-training distance of generated images, that of held-out real images
    (``heldout``, from :func:`heldout_distances` over the same training features) and their ratio; also returns
    the generated images' (distances, indices) for the grid."""
    d_gen, i_gen = nearest_neighbours(gen_features, train_features, k)
    median_gen, median_real = float(np.median(d_gen[:, 0])), float(heldout["median_distance"])
    summary = {"median_distance_generated": median_gen, "median_distance_heldout_real": median_real,
               "distance_ratio": median_gen / median_real if median_real > 0 else float("nan"),
               "n_generated": int(len(gen_features)), "n_heldout": int(heldout["n"]),
               "n_train": int(len(train_features))}
    return summary, d_gen, i_gen


def neighbour_grid(generated: torch.Tensor, train: np.ndarray, distances: np.ndarray, indices: np.ndarray,
                   rows: int, path: str | Path) -> dict[str, Any]:
    """A PNG: the ``rows`` generated samples nearest the training set (column 1) beside their k
    nearest training images, nearest first. Returns which samples and images it shows."""
    order = np.argsort(distances[:, 0], kind="stable")[:rows]
    k = indices.shape[1]
    train_t = torch.from_numpy(np.ascontiguousarray(train[indices[order].reshape(-1)])).permute(0, 3, 1, 2)
    tiles = []
    for r, i in enumerate(order):
        tiles.append(generated[i])
        tiles.extend(train_t[r * k : (r + 1) * k])
    save_grid(torch.stack(tiles), path, nrow=k + 1, pad_value=1.0)
    return {"path": str(path), "samples": [int(i) for i in order],
            "train_indices": [[int(j) for j in indices[i]] for i in order],
            "layout": f"each row: a generated sample, then its {k} nearest training images in evaluator-feature "
                      "space; rows: the samples nearest the training set first"}
