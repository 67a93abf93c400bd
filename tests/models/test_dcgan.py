"""DCGAN's networks at every image size the project trains on."""

from __future__ import annotations

import dataclasses

import torch

from ganlab.models import registry
from ganlab.models.base import DataSpec

CONTRACT = {"width": 8}  # the contract test's settings (read by tests/tiny_variants.py)


def test_dcgan_sizes():
    for size, ch in ((28, 1), (32, 3), (64, 3)):
        cls = registry.get("dcgan")
        v = cls(dataclasses.replace(cls.Config(), width=8), DataSpec((ch, size, size), 0), torch.device("cpu"))
        with torch.no_grad():
            assert v.sample(v.noise(2)).shape == (2, ch, size, size)
            assert v.nets["discriminator"](torch.zeros(2, ch, size, size)).shape == (2, 1)
