"""The mode-collapse measures of VEEGAN and PacGAN (ganlab.eval.modes), on points whose answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ganlab.eval.modes import high_quality, mode_measures, nearest_modes, reverse_kl

ANGLES = 2 * np.pi * np.arange(8) / 8
RING = 2.0 * np.stack([np.cos(ANGLES), np.sin(ANGLES)], axis=1)  # 8 means on a circle of radius 2
GRID = np.array([[x, y] for y in (-4.0, -2.0, 0.0, 2.0, 4.0) for x in (-4.0, -2.0, 0.0, 2.0, 4.0)])  # 25 means
STD = 0.02


def draw_mixture(centres: np.ndarray, std: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points of the mixture: a mode drawn uniformly, plus N(0, std^2 I)."""
    return centres[rng.integers(len(centres), size=n)] + rng.normal(0.0, std, (n, 2))


def on_modes(centres: np.ndarray, which: list[int], per_mode: int, std: float = 0.0, seed: int = 0) -> np.ndarray:
    """``per_mode`` points at each of the modes ``which``, with N(0, std^2) noise."""
    rng = np.random.default_rng(seed)
    x = np.repeat(centres[which], per_mode, axis=0)
    return x + rng.normal(0.0, std, x.shape) if std else x


def test_a_generator_on_3_of_the_8_modes_covers_3():
    m = mode_measures(on_modes(RING, [0, 3, 5], 100), RING, STD)
    assert m["modes"] == 3 and m["n_modes"] == 8
    assert m["counts"] == [100, 0, 0, 100, 0, 100, 0, 0]
    assert m["high_quality"] == 1.0
    assert m["reverse_kl"] == pytest.approx(math.log(8 / 3), abs=1e-12)  # uniform over 3 of 8: log(8/3)
    assert m["protocol"] == {"samples": 300, "quality_stds": 3.0, "std": STD, "min_samples": 1}


def test_samples_far_from_every_mode_are_not_high_quality():
    # the ring's centre is 2 from every mode, 100 std; a point 4 std off a mode is not high quality either
    far = np.array([[0.0, 0.0], [0.5, 0.5], RING[2] + [0.0, 4 * STD]])
    nearest, good = high_quality(far, RING, STD)
    assert nearest[2] == 2 and not good.any()
    m = mode_measures(far, RING, STD)
    assert m["modes"] == 0 and m["high_quality"] == 0.0 and m["counts"] == [0] * 8
    assert math.isnan(m["reverse_kl"])  # no high-quality sample: no histogram to compare


def test_the_high_quality_radius_is_three_std():
    just_in, just_out = RING[1] + [2.99 * STD, 0.0], RING[1] + [0.0, -3.01 * STD]
    assert high_quality(np.array([just_in, just_out]), RING, STD)[1].tolist() == [True, False]
    # a wider protocol takes the second one too
    assert high_quality(np.array([just_in, just_out]), RING, STD, quality_stds=4.0)[1].tolist() == [True, True]


def test_a_sample_counts_at_its_nearest_mode():
    # 40% of the way from grid mode (0, 0) to (2, 0): nearest is (0, 0), index 12 of the 25
    nearest, distance = nearest_modes(np.array([[0.8, 0.0], [1.2, 0.0]]), GRID)
    assert nearest.tolist() == [12, 13] and distance == pytest.approx([0.8, 0.8])


def test_a_uniform_cover_has_reverse_kl_zero_and_one_mode_has_log_m():
    uniform = mode_measures(on_modes(GRID, list(range(25)), 4), GRID, 0.05)
    assert uniform["modes"] == 25 and uniform["reverse_kl"] == pytest.approx(0.0, abs=1e-12)
    collapsed = mode_measures(on_modes(GRID, [7], 100, std=0.01), GRID, 0.05)
    assert collapsed["modes"] == 1 and collapsed["reverse_kl"] == pytest.approx(math.log(25), abs=1e-12)
    # the KL counts only the high-quality points: junk beside one good mode does not spread the histogram
    junk = np.concatenate([on_modes(GRID, [7], 10), np.full((90, 2), 1.0)])  # (1, 1) is 1.4 from every near mode
    assert mode_measures(junk, GRID, 0.05)["reverse_kl"] == pytest.approx(math.log(25), abs=1e-12)
    assert mode_measures(junk, GRID, 0.05)["high_quality"] == pytest.approx(0.1)


def test_reverse_kl_is_pacgans_kl_of_the_histogram_against_uniform():
    counts = np.array([3, 1, 0, 0])
    q = np.array([0.75, 0.25])
    assert reverse_kl(counts) == pytest.approx(float(np.sum(q * np.log(q / 0.25))), abs=1e-12)
    assert reverse_kl(counts) == pytest.approx(math.log(4) + 0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert math.isnan(reverse_kl(np.zeros(4)))


def test_the_data_themselves_cover_every_mode_with_the_gaussian_share_within_three_std():
    """Points drawn from the ring itself: all 8 modes, a near-uniform histogram, and the share of a 2-D
    Gaussian within 3 std, 1 - exp(-9/2) = 0.9889 (the chi-square with 2 degrees of freedom)."""
    x = draw_mixture(RING, STD, 20000, np.random.default_rng(0))
    m = mode_measures(x, RING, STD)
    assert m["modes"] == 8 and m["reverse_kl"] < 0.002
    assert m["high_quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.003)


def test_min_samples_is_the_count_a_covered_mode_needs():
    x = np.concatenate([on_modes(RING, [0], 5), on_modes(RING, [4], 1)])
    assert mode_measures(x, RING, STD)["modes"] == 2  # VEEGAN's rule: one high-quality sample is enough
    assert mode_measures(x, RING, STD, min_samples=2)["modes"] == 1
    with pytest.raises(ValueError, match="min_samples = 0"):
        mode_measures(x, RING, STD, min_samples=0)


def test_order_and_no_samples():
    x = draw_mixture(RING[:5], STD, 500, np.random.default_rng(1))
    shuffled = x[np.random.default_rng(2).permutation(len(x))]
    assert mode_measures(x, RING, STD) == mode_measures(shuffled, RING, STD)
    empty = mode_measures(np.zeros((0, 2)), RING, STD)
    assert empty["modes"] == 0 and empty["counts"] == [0] * 8 and empty["protocol"]["samples"] == 0
    assert math.isnan(empty["high_quality"]) and math.isnan(empty["reverse_kl"])


@pytest.mark.parametrize("samples, centres, std, message", [
    (np.zeros((3, 3)), RING, STD, r"samples: expected \(n, 2\) points, got shape \(3, 3\)"),
    (np.zeros((3, 2)), np.zeros((0, 2)), STD, "centres: no modes"),
    (np.zeros((3, 2)), RING, 0.0, "std = 0.0, quality_stds = 3.0: both must be positive"),
])
def test_malformed_inputs_are_named(samples, centres, std, message):
    with pytest.raises(ValueError, match=message):
        mode_measures(samples, centres, std)
