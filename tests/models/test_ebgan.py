"""EBGAN (Zhao et al., 2017): the auto-encoder's energy, the margin and the pulling-away term."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from tiny_variants import build as make, random_images as images


CONTRACT = {"width": 8}  # the contract test's settings (read by tests/tiny_variants.py)


def test_ebgan_pulling_away_term_is_the_mean_squared_cosine_between_codes():
    from ganlab.models.ebgan import pulling_away

    s = torch.randn(5, 3, 2, 2)
    flat = F.normalize(s.flatten(1), dim=1)
    expected = sum((flat[i] @ flat[j]) ** 2 for i in range(5) for j in range(5) if i != j) / 20
    assert torch.allclose(pulling_away(s), expected, atol=1e-6)
    assert pulling_away(torch.eye(4)).item() == pytest.approx(0.0)  # orthogonal codes: no pull
    assert pulling_away(torch.ones(3, 4)).item() == pytest.approx(1.0)  # identical codes: the most


def test_ebgan_energy_is_reconstruction_error_and_the_margin_caps_the_fake_term():
    from ganlab.models.ebgan import energy

    v = make("ebgan", width=8, margin=0.5)
    d = v.nets["discriminator"]
    x = images(4)
    e, code = energy(d, x)
    assert torch.allclose(e, (d(x) - x).pow(2).flatten(1).mean(1))
    assert code.shape[0] == 4 and code.dim() == 4
    losses = v.step(x, None, 0)
    assert {"energy_real", "energy_fake", "pulling_away"} <= set(losses)
    expected = losses["energy_real"] + max(0.0, 0.5 - losses["energy_fake"])
    assert losses["loss_d"] == pytest.approx(expected, rel=1e-5)
    # with the margin at 0 the generated images' energy no longer enters D's loss
    v0 = make("ebgan", width=8, margin=0.0)
    losses0 = v0.step(x, None, 0)
    assert losses0["loss_d"] == pytest.approx(losses0["energy_real"], rel=1e-6)
