"""LSGAN's least-squares losses."""

from __future__ import annotations

import pytest
import torch
from tiny_variants import make

CONTRACT = {"width": 8}  # the contract test's settings (read by tests/tiny_variants.py)


def test_lsgan_losses_are_least_squares():
    v = make("lsgan")
    ones, zeros = torch.ones(4, 1), torch.zeros(4, 1)
    assert v.d_loss(ones, zeros).item() == 0.0  # a perfect discriminator
    assert v.d_loss(zeros, ones).item() == pytest.approx(1.0)
    assert v.g_loss(zeros).item() == pytest.approx(0.5)
