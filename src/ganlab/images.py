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
from PIL import Image

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
    what torchvision's ``save_image`` and so :func:`save_grid` do; values outside [-1, 1]
    saturate. Round-trips :func:`to_unit_range` exactly.
    """
    return images.float().add(1.0).mul(127.5).add(0.5).clamp(0, 255).to(torch.uint8).contiguous()


#: how :func:`resize_images` resizes, in the words every protocol that records a resize uses
RESIZE = "bilinear, antialiased"


def resize_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 (N, C, H, W) images resized to ``size`` x ``size``, rounded back to uint8: bilinear
    interpolation with antialiasing (Pillow's way, not TF1's aliased resize), so a shrink averages
    every source pixel (64 -> 32 px weighs each 4 x 4 neighbourhood 1, 3, 3, 1 / 8 along each axis).

    ganlab's one resize: the metrics adapt a dataset's images to an evaluator's size with it, and a run
    trained at a smaller ``train.image_size`` than its dataset's reads its images through it, so such a
    run learns exactly the real images its samples are measured against.
    """
    if images.dtype != torch.uint8 or images.dim() != 4:
        raise GanlabError(f"expected uint8 images (N, C, H, W); got {images.dtype} {tuple(images.shape)}")
    if tuple(images.shape[2:]) == (size, size):
        return images.contiguous()
    parts = []
    for start in range(0, len(images), 1024):  # bounded float memory for large sets
        x = images[start : start + 1024].float()
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        parts.append(x.round().clamp(0, 255).to(torch.uint8))
    return torch.cat(parts) if parts else images.new_zeros((0, images.shape[1], size, size))


def grid_pixels(images: torch.Tensor, nrow: int, pad_value: float = 0.0, padding: int = 2) -> np.ndarray:
    """Float images (N, C, H, W) in [-1, 1] as one uint8 (rows, cols, 3) picture, ``nrow`` to a row
    with ``padding`` px of ``pad_value`` (0 = black, 1 = white) around each; grey images become RGB.

    The layout and rounding are torchvision's ``make_grid`` and ``save_image`` (with
    ``normalize=True, value_range=(-1, 1)``), pixel for pixel, without importing torchvision:
    its import pulls in torch._dynamo, 1.3 s of every stage's start-up.
    """
    x = images.detach().float().cpu()
    if x.ndim != 4 or x.shape[1] not in (1, 3) or len(x) == 0:
        raise GanlabError(f"a grid needs images of shape (N, 1 or 3, H, W), got {tuple(x.shape)}")
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    x = x.clamp(-1.0, 1.0).sub(-1.0).div(2.0)  # the order of torchvision's operations: the same floats
    if len(x) == 1:  # one image: no border, as make_grid
        grid = x[0]
    else:
        cols = min(nrow, len(x))
        rows = -(-len(x) // cols)
        h, w = x.shape[2] + padding, x.shape[3] + padding
        grid = torch.full((3, h * rows + padding, w * cols + padding), float(pad_value))
        for k, image in enumerate(x):
            r, c = divmod(k, cols)
            grid[:, r * h + padding : (r + 1) * h, c * w + padding : (c + 1) * w] = image
    return grid.mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to(torch.uint8).numpy()


def save_grid(images: torch.Tensor, path: str | Path, nrow: int, pad_value: float = 0.0) -> Path:
    """Images (N, C, H, W) as one PNG grid of ``nrow`` per row, written atomically: floats in
    [-1, 1] as generators give them, or uint8."""
    if images.dtype == torch.uint8:
        images = to_unit_range(images)
    buf = io.BytesIO()
    Image.fromarray(grid_pixels(images, nrow, pad_value)).save(buf, format="png")
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
