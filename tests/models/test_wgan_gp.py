"""WGAN-GP's gradient penalty and its critic without batch norm."""

from __future__ import annotations

import math

import pytest
import torch
from tiny_variants import make

CONTRACT = {"width": 8, "n_critic": 2}  # the contract test's settings (read by tests/tiny_variants.py)


def test_wgan_gp_penalty_and_critic_without_batch_norm():
    from ganlab.models.losses import gradient_penalty

    v = make("wgan_gp")
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in v.nets["discriminator"].modules())
    real, fake = torch.randn(6, 4), torch.randn(6, 4)
    for scale, want in ((1.0, 0.0), (2.0, 1.0), (3.0, 4.0)):  # a linear critic's gradient is its weight
        w = torch.tensor([[0.6, 0.8, 0.0, 0.0]]) * scale
        critic = torch.nn.Linear(4, 1, bias=False)
        critic.weight.data.copy_(w)
        assert gradient_penalty(critic, real, fake).item() == pytest.approx(want, abs=1e-5)
    assert v.config.gp_weight == 10 and v.optimizers["discriminator"].defaults["betas"] == (0.0, 0.9)


def test_the_toy_arch_is_the_point_mlp_and_trains_on_points(tmp_path):
    """arch toy: a critic on (2, 1, 1) points with no batch norm (the penalty is per sample), samples as points."""
    from tiny_variants import build_labelled

    v = build_labelled("wgan_gp", shape=(2, 1, 1), n_classes=0, arch="toy", width=16, z_dim=8)
    assert not v.makes_images
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in v.nets.modules())
    z = v.noise(5)
    x = v.sample(z)
    assert x.shape == (5, 2, 1, 1) and v.points(x).shape == (5, 2)
    assert v.nets["discriminator"](x).shape == (5, 1)
    real = torch.randn(4 * v.real_batches_per_step(0), 2, 1, 1)
    out = v.step(real, None, 0)
    assert {"wasserstein", "gradient_penalty"} <= set(out) and all(map(math.isfinite, out.values()))
