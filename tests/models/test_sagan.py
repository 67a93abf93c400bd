"""SAGAN (Zhang et al., 2019): self-attention, spectral norm in both networks, hinge loss and TTUR."""

from __future__ import annotations

import pytest
import torch
from tiny_variants import build as make, random_images as images


CONTRACT = {"width": 8, "z_dim": 16}  # the contract test's settings (read by tests/tiny_variants.py)


def test_sagan_attention_starts_as_identity_and_mixes_every_position():
    from ganlab.models.sagan import SelfAttention

    block = SelfAttention(16)
    x = torch.randn(2, 16, 5, 5)
    assert torch.equal(block(x), x)  # gamma = 0: the block starts as the identity
    beta = block.last_attention
    assert beta.shape == (2, 25, 25) and torch.allclose(beta.sum(1), torch.ones(2, 25))
    with torch.no_grad():
        block.gamma.fill_(1.0)
    x2 = x.clone()
    x2[:, :, 0, 0] += 5.0  # one corner changes: with attention on, the opposite corner's output moves
    assert not torch.allclose(block(x2)[:, :, 4, 4], block(x)[:, :, 4, 4])


def test_sagan_spectral_norm_in_both_networks_hinge_loss_and_ttur():
    from ganlab.models.sagan import SelfAttention

    v = make("sagan", width=8, z_dim=16)
    for role in ("generator", "discriminator"):
        net = v.nets[role]
        convs = [m for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
        assert convs and all(torch.nn.utils.parametrize.is_parametrized(m, "weight") for m in convs), role
        assert any(isinstance(m, SelfAttention) for m in net.modules()), role
    lrs = {role: o.param_groups[0]["lr"] for role, o in v.optimizers.items()}
    assert lrs == {"generator": 1e-4, "discriminator": 4e-4}
    assert v.optimizers["generator"].param_groups[0]["betas"] == (0.0, 0.9)
    real, fake = torch.tensor([[2.0], [0.5]]), torch.tensor([[-2.0], [0.0]])
    assert v.d_loss(real, fake).item() == pytest.approx((0 + 0.5) / 2 + (0 + 1) / 2)
    assert {"gamma_g", "gamma_d"} <= set(v.step(images(8), None, 0))
