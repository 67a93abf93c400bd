"""The VAE: its ELBO terms, the importance-weighted NLL against an exact likelihood, the figures."""

from __future__ import annotations

import math

import pytest
import torch

from ganlab.models import registry
from ganlab.models.base import DataSpec
from ganlab.models.vae import binarise, kl_standard_normal, log_normal
from ganlab.runs import load_generator
from ganlab.train.trainer import TrainConfig, Trainer

CONTRACT = {"z_dim": 4, "hidden": 16, "nll_samples": 8}  # the contract test's settings (read by tests/tiny_variants.py)


def make(shape=(1, 28, 28), seed: int = 0, **config):
    cls = registry.get("vae")
    torch.manual_seed(seed)
    return cls(cls.Config(**{"z_dim": 4, "hidden": 16, **config}), DataSpec(shape, 0), torch.device("cpu"))


def images(n: int, shape=(1, 28, 28), seed: int = 1) -> torch.Tensor:
    return torch.rand(n, *shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_kl_and_gaussian_log_density_match_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu, logvar, z = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    prior = torch.distributions.Normal(torch.zeros(3), torch.ones(3))
    assert torch.allclose(kl_standard_normal(mu, logvar), torch.distributions.kl_divergence(q, prior).sum(1), atol=1e-5)
    assert torch.allclose(log_normal(z, mu, logvar), q.log_prob(z).sum(1), atol=1e-5)


def test_dynamic_binarisation_draws_each_pixel_with_its_intensity():
    x = torch.tensor([-1.0, -0.5, 0.0, 0.6, 1.0]).repeat(20_000, 1)
    b = binarise(x, torch.Generator().manual_seed(0))
    assert set(b.unique().tolist()) <= {0.0, 1.0}
    assert torch.allclose(b.mean(0), torch.tensor([0.0, 0.25, 0.5, 0.8, 1.0]), atol=0.01)
    again = binarise(x, torch.Generator().manual_seed(0))
    assert torch.equal(b, again)  # a seeded generator gives the same binarisation
    assert not torch.equal(binarise(x[:50]), binarise(x[:50]))  # training draws afresh each time


def test_decoder_is_bernoulli_on_one_channel_images_and_gaussian_on_colour():
    assert make().bernoulli
    colour = make((3, 8, 8))
    assert not colour.bernoulli and "log_sigma" in dict(colour.nets["decoder"].named_parameters())
    assert not make(decoder="gaussian").bernoulli and make((3, 8, 8), decoder="bernoulli").bernoulli


def test_step_minimises_reconstruction_plus_kl():
    v = make()
    x = images(16)
    losses = v.step(x, None, 0)
    assert losses["loss"] == pytest.approx(losses["recon"] + losses["kl"], rel=1e-5)
    assert losses["kl"] >= 0 and losses["recon"] > 0
    first = losses["loss"]
    for k in range(60):
        losses = v.step(x, None, k + 1)
    assert losses["loss"] < first


def exact_log_px(v, target: torch.Tensor) -> torch.Tensor:
    """log p(x) = log integral p(x|z) N(z; 0, 1) dz for a 1-D latent, by the trapezoid rule."""
    z = torch.linspace(-10, 10, 20_001).view(-1, 1)
    log_joint = torch.stack([v.log_px(t.expand(len(z), -1), z) for t in target]) - 0.5 * (math.log(2 * math.pi) + z.view(1, -1) ** 2)
    dz = (z[1] - z[0]).item()
    return torch.logsumexp(log_joint, dim=1) + math.log(dz)


@pytest.mark.parametrize("shape", [(1, 2, 2), (3, 1, 1)])  # Bernoulli, then Gaussian
def test_importance_weighted_bound_approaches_the_exact_likelihood_from_below(shape):
    v = make(shape, z_dim=1, hidden=8)
    with torch.no_grad():
        target = v.target(images(6, shape, seed=3), torch.Generator().manual_seed(0))
        exact = exact_log_px(v, target)
        g = torch.Generator().manual_seed(1)
        loose = torch.stack([v.iwae_bound(target, 1, g) for _ in range(1000)]).mean(0)  # E[bound_1] = ELBO
        tight = v.iwae_bound(target, 20_000, g, chunk=5000)
    assert torch.all(loose < exact + 0.03)  # below, up to the noise of 1000 one-sample bounds
    assert (exact - loose).mean() > 0.02  # the ELBO's gap, which importance sampling closes:
    assert torch.allclose(tight, exact, atol=0.01)


def test_evaluate_reports_nll_elbo_and_their_protocol_deterministically():
    v = make(nll_samples=50, nll_images=7)
    x = images(11)
    with torch.no_grad():
        a, b = v.evaluate(x, None), v.evaluate(x, None)
    assert a == b  # the binarisation and importance samples come from nll_seed
    assert set(a) == {"nll", "nll_stderr", "elbo", "recon", "kl"}
    assert a["nll"] > 0 and a["nll_stderr"] > 0
    assert -a["elbo"] == pytest.approx(a["recon"] + a["kl"], rel=1e-5)
    assert a["nll"] <= -a["elbo"] + 5  # the 50-sample bound is no looser than the one-sample ELBO, up to noise
    p = v.protocol()
    assert "k = 50" in p["nll"] and "first 7 test images" in p["nll"] and p["split"] == "test"
    assert "86.76" in p["anchor"]


def test_manifold_decodes_the_prior_quantile_grid_for_2d_latents():
    v = make(z_dim=2, manifold_size=5)
    z = v.manifold_codes()
    assert z.shape == (25, 2)
    grid = z.view(5, 5, 2)
    assert torch.all(grid[:, 1:, 0] > grid[:, :-1, 0])  # z_1 grows along a row
    assert torch.all(grid[1:, :, 1] < grid[:-1, :, 1])  # z_2 falls down the columns
    assert torch.allclose(grid[2, 2], torch.zeros(2), atol=1e-6)  # the median in the middle
    assert torch.allclose(torch.distributions.Normal(0, 1).cdf(grid[0, :, 0]), torch.tensor([0.1, 0.3, 0.5, 0.7, 0.9]))
    with torch.no_grad():
        figs = v.figures(images(4), None)
    assert figs["manifold"][0].shape == (25, 1, 28, 28) and figs["manifold"][1] == 5
    assert "manifold" not in make(z_dim=3).figures(images(4), None)


def test_trained_vae_exports_a_generator_that_samples_the_same_images(tmp_path):
    v = make()
    x = images(16)
    Trainer(v, x, None, TrainConfig(steps=3, batch_size=8, n_samples=4, sample_every=3, checkpoint_every=3),
            tmp_path).fit(progress=False)
    assert (tmp_path / "samples" / "reconstruction_step_0000003.png").exists()
    loaded = load_generator(tmp_path / "generator.pt")
    z = v.noise(3, torch.Generator().manual_seed(0))
    with torch.no_grad():
        v.nets.eval()
        assert torch.equal(loaded.sample(z), v.sample(z))
        assert loaded.sample(z).min() >= -1 and loaded.sample(z).max() <= 1
