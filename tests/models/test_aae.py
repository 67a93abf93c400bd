"""The adversarial auto-encoder: its two phases, its priors and the latent scatter."""

from __future__ import annotations

import math

import pytest
import torch

from ganlab.errors import ParamsError
from ganlab.models import registry
from ganlab.models.base import DataSpec
from ganlab.train.trainer import TrainConfig, Trainer

CONTRACT = {"hidden": 16}  # the contract test's settings (read by tests/tiny_variants.py)


def make(seed: int = 0, classes: int = 10, **config):
    cls = registry.get("aae")
    torch.manual_seed(seed)
    return cls(cls.Config(**{"hidden": 16, **config}), DataSpec((1, 8, 8), classes), torch.device("cpu"))


def batch(n: int = 32, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 8, 8, generator=g) * 2 - 1, torch.randint(0, 10, (n,), generator=g)


def test_mixture_prior_puts_each_class_on_its_own_elongated_component():
    v = make(prior="mixture", radius=4.0, std_radial=1.0, std_tangent=0.25)
    labels = torch.full((20_000,), 3)
    z = v.prior_sample(labels, torch.Generator().manual_seed(0))
    angle = 2 * math.pi * 3 / 10
    radial, tangent = torch.tensor([math.cos(angle), math.sin(angle)]), torch.tensor([-math.sin(angle), math.cos(angle)])
    along, across = z @ radial, z @ tangent
    assert along.mean().item() == pytest.approx(4.0, abs=0.03)
    assert along.std().item() == pytest.approx(1.0, abs=0.03)
    assert across.mean().item() == pytest.approx(0.0, abs=0.01)
    assert across.std().item() == pytest.approx(0.25, abs=0.01)
    means = torch.stack([v.prior_sample(torch.full((2000,), k), torch.Generator().manual_seed(k)).mean(0)
                         for k in range(10)])
    assert torch.cdist(means, means).add(torch.eye(10) * 10).min() > 2  # ten separate components


def test_gaussian_prior_is_standard_normal_whatever_the_labels():
    v = make()
    z = v.prior_sample(torch.arange(10).repeat(2000), torch.Generator().manual_seed(0))
    assert torch.allclose(z.mean(0), torch.zeros(2), atol=0.03) and torch.allclose(z.std(0), torch.ones(2), atol=0.03)


def test_mixture_prior_is_two_dimensional_and_needs_classes():
    with pytest.raises(ParamsError, match="z_dim = 8"):
        make(prior="mixture", z_dim=8)
    with pytest.raises(ParamsError, match="labelled dataset"):
        make(prior="mixture", classes=0)


def test_discriminator_sees_the_label_only_under_the_mixture_prior():
    assert make().nets["discriminator"][0].in_features == 2
    assert make(prior="mixture").nets["discriminator"][0].in_features == 12


def test_each_phase_updates_only_its_networks():
    v = make()
    x, y = batch()
    before = {k: p.detach().clone() for k, p in v.nets.named_parameters()}
    d_params = {id(p) for p in v.nets["discriminator"].parameters()}
    assert not d_params & {id(p) for p in v.optimizers["autoencoder"].param_groups[0]["params"]}
    assert not d_params & {id(p) for p in v.optimizers["encoder"].param_groups[0]["params"]}
    assert {id(p) for p in v.optimizers["discriminator"].param_groups[0]["params"]} == d_params
    losses = v.step(x, y, 0)
    assert set(losses) == {"loss_recon", "loss_d", "loss_e"}
    changed = {k.split(".")[0] for k, p in v.nets.named_parameters() if not torch.equal(p, before[k])}
    assert changed == {"encoder", "decoder", "discriminator"}


def test_regularisation_pulls_the_aggregate_posterior_towards_the_prior():
    """With the reconstruction phase switched off, the adversarial game alone must move the
    codes of the data from where the encoder starts towards N(0, I)."""
    v = make(seed=3, lr=1e-12, lr_adversarial=2e-3)
    x, y = batch(256)
    with torch.no_grad():
        v.nets["encoder"][-1].bias.fill_(5.0)  # the codes start far from the prior
        start = v.encode(x).mean(0).norm().item()
    for k in range(300):
        v.step(x, y, k)
    with torch.no_grad():
        end = v.encode(x).mean(0).norm().item()
    assert start > 4.5 and end < 1.5


def test_latent_scatter_and_reconstruction_error_on_the_test_split(tmp_path):
    v = make(z_dim=3)
    x, y = batch(64)
    test = batch(40, seed=2)
    summary = Trainer(v, x, y, TrainConfig(steps=2, batch_size=16, n_samples=4, sample_every=2, checkpoint_every=2),
                      tmp_path, test=test).fit(progress=False)
    assert summary["test"]["recon_mse"] > 0
    assert (tmp_path / "samples" / "latent.png").stat().st_size > 1000
    assert (tmp_path / "samples" / "reconstruction_step_0000002.png").exists()
    with torch.no_grad():
        fig = v.test_figures(*test)["latent"]
    assert "principal components" in fig.axes[0].get_title()
