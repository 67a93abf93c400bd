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


def interleave_rows(*images: torch.Tensor, per_row: int = 10) -> tuple[torch.Tensor, int]:
    """Bands of matching rows, one row from each of ``images`` in turn (originals above their
    reconstructions, or x / G(x) / F(G(x))); whole rows only, at most ``per_row`` a row."""
    n = min(len(x) for x in images)
    n = (n // per_row) * per_row or n
    per_row = min(per_row, n)
    rows = torch.stack([x[:n].reshape(n // per_row, per_row, *x.shape[1:]) for x in images], 1)
    return rows.reshape(len(images) * n, *images[0].shape[1:]), per_row
