"""Layers shared by several variants."""

from __future__ import annotations

import torch
from torch import nn


def dcgan_init(module: nn.Module) -> None:
    """DCGAN's initialisation: conv and linear weights ~ N(0, 0.02), batch-norm scales ~ N(1, 0.02)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def upsampling_plan(size: int) -> tuple[int, int]:
    """(start side, number of stride-2 steps) for a square image: 28 -> (7, 2), 32 -> (4, 3), 64 -> (4, 4)."""
    steps = 0
    while size % 2 == 0 and size > 7:
        size //= 2
        steps += 1
    if size not in (4, 7) or steps == 0:
        raise ValueError(f"image side {size * 2**steps} is not 4 or 7 times a power of two (28, 32, 64, 128 ...)")
    return size, steps


def interleave_rows(a: torch.Tensor, b: torch.Tensor, per_row: int = 10) -> tuple[torch.Tensor, int]:
    """Rows of ``a`` alternating with the matching rows of ``b`` (originals above their outputs)."""
    n = (min(len(a), len(b)) // per_row) * per_row or min(len(a), len(b))
    per_row = min(per_row, n)
    rows = n // per_row
    pairs = torch.stack([a[:n].reshape(rows, per_row, *a.shape[1:]), b[:n].reshape(rows, per_row, *b.shape[1:])], 1)
    return pairs.reshape(2 * n, *a.shape[1:]), per_row
