"""The Parzen-window estimate of the GAN paper against densities whose value is known in closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganlab.errors import GanlabError
from ganlab.eval.parzen import SIGMAS, log_likelihoods, parzen_log_likelihood


def flat_images(values: list[int], side: int = 4) -> np.ndarray:
    """One (side, side, 1) uint8 image per value, every pixel that value."""
    return np.stack([np.full((side, side, 1), v, dtype=np.uint8) for v in values])


def test_sigma_selection_finds_the_known_optimum_in_the_middle_of_the_grid() -> None:
    # One sample at 0 and validation images at 51/255 = 0.2 in all D = 16 pixels: the validation
    # log-likelihood -D 0.04 / (2 s^2) - D/2 log(2 pi s^2) peaks exactly at s = 0.2. It would peak
    # at s = 51 were the pixels not scaled to [0, 1] as in the paper.
    grid = (0.1, 0.14, 0.2, 0.28, 0.4)
    out = parzen_log_likelihood(flat_images([0]), flat_images([51] * 3), flat_images([51, 0]), sigmas=grid)
    assert out["sigma"] == 0.2
    val = list(out["validation_log_likelihood"].values())
    assert val[0] < val[1] < val[2] > val[3] > val[4]
    d = 16
    at_51 = -d * 0.04 / (2 * 0.04) - d / 2 * math.log(2 * math.pi * 0.04)
    at_0 = -d / 2 * math.log(2 * math.pi * 0.04)
    assert out["log_likelihood"] == pytest.approx((at_51 + at_0) / 2, abs=1e-9)
    # sample standard deviation of two values a, b is |a - b| / sqrt(2); over sqrt(2) images
    assert out["std_error"] == pytest.approx(abs(at_51 - at_0) / 2, abs=1e-9)
    assert out["protocol"]["sigma_grid"] == list(grid) and out["protocol"]["n_samples"] == 1


def test_many_samples_give_the_smoothed_gaussian_in_closed_form() -> None:
    # Samples of N(0, s^2 I) under a kernel of width h estimate the density N(0, (s^2 + h^2) I), whose
    # mean log-density over x ~ N(0, s^2 I) is -D/2 log(2 pi (s^2 + h^2)) - D/2 s^2 / (s^2 + h^2).
    g = torch.Generator().manual_seed(0)
    d, s, h = 3, 1.0, 0.6
    x = s * torch.randn(4000, d, generator=g, dtype=torch.float64)
    want = -d / 2 * math.log(2 * math.pi * (s * s + h * h)) - d / 2 * s * s / (s * s + h * h)
    errors = []
    for n in (30, 30000):
        samples = s * torch.randn(n, d, generator=g, dtype=torch.float64)
        errors.append(abs(float(log_likelihoods(samples, x, (h,), block=1000)[0].mean()) - want))
    assert errors[1] < 0.02 < errors[0]


def test_every_sigma_and_block_size_give_the_same_numbers() -> None:
    g = torch.Generator().manual_seed(1)
    samples, x = torch.rand(300, 10, generator=g, dtype=torch.float64), torch.rand(77, 10, generator=g, dtype=torch.float64)
    together = log_likelihoods(samples, x, SIGMAS, block=7)
    assert together.shape == (len(SIGMAS), 77)
    for k, sigma in enumerate(SIGMAS):
        assert torch.allclose(together[k], log_likelihoods(samples, x, (sigma,), block=1000)[0], rtol=0, atol=1e-9)


def test_parzen_bad_inputs_are_named() -> None:
    images = flat_images([0, 10, 20])
    with pytest.raises(GanlabError, match="sigmas must be positive"):
        parzen_log_likelihood(images, images, images, sigmas=(0.1, float("nan")))
    with pytest.raises(GanlabError, match="sigmas must be positive"):
        parzen_log_likelihood(images, images, images, sigmas=(-0.1,))
    with pytest.raises(GanlabError, match="at least one image"):
        parzen_log_likelihood(images, images, images[:0])
    with pytest.raises(GanlabError, match="take uint8 images"):
        parzen_log_likelihood(torch.zeros(3, 1, 4, 4), images, images)
    with pytest.raises(GanlabError, match="one D"):
        parzen_log_likelihood(images, images, flat_images([0], side=5))


def test_parzen_of_one_sample_is_a_gaussian_density() -> None:
    s, x = torch.tensor([[0.2, 0.4]], dtype=torch.float64), torch.tensor([[0.5, 0.0], [0.2, 0.4]], dtype=torch.float64)
    sigma = 0.3
    got = log_likelihoods(s, x, (sigma,))[0]
    want = [-(0.3**2 + 0.4**2) / (2 * sigma**2) - math.log(2 * math.pi * sigma**2), -math.log(2 * math.pi * sigma**2)]
    assert got.tolist() == pytest.approx(want, abs=1e-12)


def test_parzen_approaches_the_true_density_and_blocks_change_nothing() -> None:
    g = torch.Generator().manual_seed(0)
    samples = 0.5 + 0.1 * torch.randn(20000, 1, generator=g, dtype=torch.float64)
    x = 0.5 + 0.1 * torch.randn(2000, 1, generator=g, dtype=torch.float64)
    true = (-0.5 * ((x - 0.5) / 0.1) ** 2 - math.log(0.1 * math.sqrt(2 * math.pi))).mean()
    est = log_likelihoods(samples, x, (0.01,), block=333)[0]
    assert float(est.mean()) == pytest.approx(float(true), abs=0.02)
    assert torch.allclose(est, log_likelihoods(samples, x, (0.01,), block=5000)[0], atol=1e-10)


def test_sigma_is_chosen_on_validation_and_bad_input_is_named() -> None:
    rng = np.random.default_rng(5)
    data = rng.integers(0, 256, (300, 4, 4, 1), dtype=np.uint8)
    out = parzen_log_likelihood(data[:100], data[100:200], data[200:])
    val = out["validation_log_likelihood"]
    assert out["sigma"] == pytest.approx(float(max(val, key=val.get)), rel=1e-3)
    assert out["protocol"]["n_test"] == 100 and out["protocol"]["units"] == "nats per image"
    with pytest.raises(GanlabError, match="take uint8 images"):
        parzen_log_likelihood(data[:10].astype(np.float32), data[:10], data[:10])
    with pytest.raises(GanlabError, match="at least one image"):
        parzen_log_likelihood(data[:0], data[:10], data[:10])
    with pytest.raises(GanlabError, match="one D"):
        parzen_log_likelihood(data[:10], rng.integers(0, 255, (5, 3, 3, 1), dtype=np.uint8), data[:10])
