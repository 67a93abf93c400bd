"""SNGAN: spectral normalisation keeps every discriminator layer's spectral norm at 1."""

from __future__ import annotations

import pytest
import torch
from tiny_variants import data, make

CONTRACT = {"width": 8}  # the contract test's settings (read by tests/tiny_variants.py)


def test_sngan_discriminator_layers_have_unit_spectral_norm():
    v = make("sngan")
    x, _ = data(8)
    for _ in range(20):  # power iterations run on every forward pass in training mode
        v.nets["discriminator"](x)
    for m in v.nets["discriminator"].modules():
        if isinstance(m, torch.nn.Conv2d):
            sigma = torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2)
            assert sigma.item() == pytest.approx(1.0, abs=0.1)
