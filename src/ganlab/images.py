"""Pixels between their three forms, and pictures written as PNGs: one home for both.

ganlab keeps an image in one of three forms:

- a dataset's uint8 numpy array (N, H, W, C), as ganlab.data reads it;
- a uint8 tensor (N, C, H, W), what the metrics, the memorisation check and the transfer test
  hold in memory (a quarter of float32's size);
- a float32 tensor (N, C, H, W) in [-1, 1], what every network takes and every generator gives.

The scaling between uint8 and [-1, 1] is ``x / 127.5 - 1`` one way and ``(x + 1) * 127.5``
rounded half up the other; the functions here are the only places that spell it, so a network
and the files it is measured on can never disagree about what a pixel is.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torchvision.utils import save_image

from ganlab.errors import GanlabError
from ganlab.files import atomic_write


def to_unit_range(images: torch.Tensor, memory_format: torch.memory_format | None = None) -> torch.Tensor:
    """uint8 images (usually (N, C, H, W); any shape works) -> float32 in [-1, 1], the scaling the
    networks are trained with: 0 -> -1, 255 -> 1.

    ``memory_format``: the layout of the result (the evaluator runs channels-last, a quarter
    faster on CPU); None keeps the strides of ``images``, so a caller's convolutions see the
    layout they always saw.
    """
    x = images.float().div(127.5).sub(1.0)
    return x if memory_format is None else x.contiguous(memory_format=memory_format)


def nchw(images: np.ndarray) -> torch.Tensor:
    """A dataset's uint8 (N, H, W, C) array as a uint8 (N, C, H, W) tensor (no copy of the pixels to float)."""
    if images.dtype != np.uint8 or images.ndim != 4:
        raise GanlabError(f"expected uint8 images of shape (N, H, W, C), got {images.dtype} {images.shape}")
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).contiguous()


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """A dataset's uint8 (N, H, W, C) array -> float32 (N, C, H, W) in [-1, 1], contiguous."""
    return to_unit_range(torch.from_numpy(images).permute(0, 3, 1, 2), torch.contiguous_format)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Float (N, C, H, W) in [-1, 1], as generators give them -> uint8 (N, C, H, W), contiguous.

    Quantised as a PNG of them is: scaled to [0, 255], rounded half up and clipped, which is
    what torchvision's ``save_image`` (and so :func:`save_grid`) does; values outside [-1, 1]
    saturate. Round-trips :func:`to_unit_range` exactly.
    """
    return images.float().add(1.0).mul(127.5).add(0.5).clamp(0, 255).to(torch.uint8).contiguous()


def save_grid(images: torch.Tensor, path: str | Path, nrow: int, pad_value: float = 0.0) -> Path:
    """Images (N, C, H, W) as one PNG grid of ``nrow`` per row, written atomically: floats in
    [-1, 1] as generators give them, or uint8."""
    if images.dtype == torch.uint8:
        images = to_unit_range(images)
    buf = io.BytesIO()
    save_image(images.float(), buf, format="png", nrow=nrow, normalize=True, value_range=(-1, 1),
               pad_value=pad_value)
    with atomic_write(Path(path)) as fh:
        fh.write(buf.getvalue())
    return Path(path)


def save_figure(fig: Any, path: Path) -> Path:
    """A matplotlib figure as a PNG, written atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    with atomic_write(path) as fh:
        fh.write(buf.getvalue())
    return path
