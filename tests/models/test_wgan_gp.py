"""WGAN-GP's gradient penalty and its critic without batch norm."""

from __future__ import annotations

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
