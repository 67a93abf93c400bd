"""Memorisation checks (perceptual-hash copies, nearest training images)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganlab.errors import GanlabError
from ganlab.eval import memorisation as memo


def shapes(n: int, seed: int) -> np.ndarray:
    """32x32 grey images of random rectangles and discs: different enough for hashes to tell apart."""
    import cv2

    rng = np.random.default_rng(seed)
    out = np.zeros((n, 32, 32, 1), dtype=np.uint8)
    for img in out:
        for _ in range(3):
            x, y = rng.integers(2, 28, 2)
            if rng.random() < 0.5:
                cv2.rectangle(img, (int(x) - 4, int(y) - 6), (int(x) + 5, int(y) + 3), int(rng.integers(80, 255)), -1)
            else:
                cv2.circle(img, (int(x), int(y)), int(rng.integers(3, 8)), int(rng.integers(80, 255)), -1)
    return out


@pytest.mark.parametrize("words", [1, 2, 4])
def test_nearest_hashes_equal_brute_force(words: int) -> None:
    rng = np.random.default_rng(words)
    q = rng.integers(0, 2**64, (37, words), dtype=np.uint64, endpoint=False)
    bank = rng.integers(0, 2**64, (101, words), dtype=np.uint64, endpoint=False)
    bank[5] = q[3]
    bank[60] = bank[7] = q[9] ^ np.uint64(3)  # a tie two bits a word away: the first index wins
    q[11] = ~bank[20]  # every bit differs from one hash: the largest distance the types must hold
    dist, idx = memo.nearest_hashes(q, bank, block=8)
    brute = np.array([[sum(bin(int(a) ^ int(b)).count("1") for a, b in zip(qa, ba)) for ba in bank] for qa in q])
    assert np.array_equal(dist, brute.min(1)) and np.array_equal(idx, brute.argmin(1))
    assert dist[3] == 0 and idx[3] == 5 and (dist[9], idx[9]) == (2 * words, 7)
    assert dist.dtype == idx.dtype == np.int64
    with pytest.raises(GanlabError, match="one W"):
        memo.nearest_hashes(q, np.zeros((3, words + 1), dtype=np.uint64))


def test_copies_are_found_and_confirmed_and_new_images_are_not() -> None:
    train = shapes(200, 0)
    hashes = memo.perceptual_hashes(train, "phash", 8)
    copy = train[17].copy()
    shifted = np.roll(train[42], 1, axis=1)  # a one-pixel shift of a training image
    new = shapes(1, 99)[0]
    generated = np.stack([copy, shifted, new])
    out = memo.hash_copies(generated, train, hashes, method="phash", hash_size=8, threshold=10, min_correlation=0.94)
    confirmed = {c["sample"]: c["train_index"] for c in out["confirmed"]}
    assert confirmed.get(0) == 17 and confirmed.get(1) == 42 and 2 not in confirmed
    assert out["n_confirmed"] == 2 and out["confirmed_share"] == pytest.approx(2 / 3)
    assert out["protocol"]["n_train"] == 200 and out["protocol"]["threshold_bits"] == 10
    with pytest.raises(GanlabError, match="expected uint8 images"):
        memo.hash_copies(generated.astype(np.float32), train, hashes, method="phash", hash_size=8, threshold=10,
                         min_correlation=0.9)


def test_nearest_neighbours_equal_cdist_and_a_training_image_finds_itself() -> None:
    rng = np.random.default_rng(1)
    bank, q = rng.normal(size=(300, 16)).astype(np.float32), rng.normal(size=(40, 16)).astype(np.float32)
    q[7] = bank[123]
    d, i = memo.nearest_neighbours(q, bank, k=4, block=9)
    ref = torch.cdist(torch.from_numpy(q).double(), torch.from_numpy(bank).double())
    rd, ri = ref.topk(4, dim=1, largest=False)
    assert np.array_equal(i, ri.numpy()) and np.allclose(d, rd.numpy(), atol=1e-3)
    assert i[7, 0] == 123 and d[7, 0] < 1e-2
    with pytest.raises(GanlabError, match="k = 301"):
        memo.nearest_neighbours(q, bank, k=301)


def test_neighbour_summary_and_grid(tmp_path) -> None:
    from PIL import Image

    rng = np.random.default_rng(2)
    train_f = rng.normal(size=(100, 8))
    copies = train_f[:20] + 1e-3  # samples that copy training points sit far closer than held-out data
    heldout = rng.normal(size=(20, 8))
    yardstick = memo.heldout_distances(heldout, train_f)
    d_real, _ = memo.nearest_neighbours(heldout, train_f, 1)
    assert yardstick == {"median_distance": float(np.median(d_real[:, 0])), "n": 20, "n_train": 100}
    summary, d, i = memo.neighbour_summary(copies, yardstick, train_f, k=2)
    assert summary["distance_ratio"] < 0.05 and i.shape == (20, 2) and np.array_equal(i[:, 0], np.arange(20))
    assert summary["median_distance_heldout_real"] == yardstick["median_distance"] and summary["n_heldout"] == 20
    images = torch.from_numpy(shapes(20, 3)).permute(0, 3, 1, 2).contiguous()
    train = shapes(100, 4)
    info = memo.neighbour_grid(images, train, d, i, rows=5, path=tmp_path / "grid.png")
    with Image.open(tmp_path / "grid.png") as png:
        assert png.size == (2 + 3 * 34, 2 + 5 * 34)
    assert len(info["samples"]) == 5 and info["samples"] == sorted(info["samples"], key=lambda s: d[s, 0])


def test_noised_copies_lie_within_the_dedup_threshold_and_unrelated_patterns_do_not() -> None:
    train = shapes(200, 0)
    hashes = memo.perceptual_hashes(train, "phash", 8)
    rng = np.random.default_rng(7)
    noised = np.clip(train[:20] + rng.normal(0, 16, train[:20].shape), 0, 255).astype(np.uint8)
    dist, idx = memo.nearest_hashes(memo.perceptual_hashes(noised, "phash", 8), hashes)
    assert dist.max() <= 16 and np.array_equal(idx, np.arange(20))  # params dedup.threshold: 16 bits
    yy, xx = np.mgrid[:32, :32]
    patterns = np.stack([(xx // 4 + yy // 4) % 2 * 255, (xx * 8).clip(0, 255), (np.sin(xx / 2) + 1) * 127])
    out = memo.hash_copies(patterns.astype(np.uint8)[..., None], train, hashes, method="phash", hash_size=8,
                           threshold=16, min_correlation=0.94)
    assert out["n_within_threshold"] == 0 and out["share"] == 0.0 and out["median_bits_to_nearest"] > 16


def test_memorisation_bad_inputs_are_named() -> None:
    train = shapes(10, 0)
    hashes = memo.perceptual_hashes(train, "phash", 8)
    kwargs = {"method": "phash", "hash_size": 8, "threshold": 16, "min_correlation": 0.94}
    with pytest.raises(GanlabError, match="no generated images"):
        memo.hash_copies(train[:0], train, hashes, **kwargs)
    with pytest.raises(GanlabError, match="10 training images but 9 training hashes"):
        memo.hash_copies(train[:2], train, hashes[:9], **kwargs)
    with pytest.raises(GanlabError, match="unknown hash 'qhash'"):
        memo.perceptual_hashes(train, "qhash", 8)
    bank = np.random.default_rng(0).normal(size=(5, 4))
    with pytest.raises(GanlabError, match="no query features"):
        memo.nearest_neighbours(bank[:0], bank)
    with pytest.raises(GanlabError, match="NaN or infinite"):
        memo.nearest_neighbours(np.full((2, 4), np.nan), bank)
    with pytest.raises(GanlabError, match="one D"):
        memo.nearest_neighbours(bank[:, :3], bank)
