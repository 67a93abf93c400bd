"""Sample grids and latent interpolations from a trained generator (``ganlab sample``, the report).

Interpolations walk between pairs of latent codes: linearly (lerp) or along the great circle
(slerp, White 2016), which keeps a Gaussian code at the norm the generator was trained on, where
the straight line between two codes passes through the low-norm interior the prior rarely draws.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from ganlab.errors import GanlabError
from ganlab.eval.pipeline import generate
from ganlab.images import save_grid

log = logging.getLogger(__name__)

MODES = ("lerp", "slerp")


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of rows ``a`` and ``b`` (N, ...) at fractions ``t`` (T,): (N, T, ...).
    Falls back to lerp where the two codes are (anti)parallel."""
    n = a.shape[0]
    fa, fb = a.reshape(n, -1).double(), b.reshape(n, -1).double()
    cos = (fa * fb).sum(1) / (fa.norm(dim=1) * fb.norm(dim=1)).clamp_min(1e-12)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))[:, None]  # (N, 1)
    tt = t.double()[None, :]  # (1, T)
    so = torch.sin(omega)
    safe = so.abs() > 1e-6
    wa = torch.where(safe, torch.sin((1 - tt) * omega) / torch.where(safe, so, 1.0), 1 - tt)
    wb = torch.where(safe, torch.sin(tt * omega) / torch.where(safe, so, 1.0), tt)
    out = wa[:, :, None] * fa[:, None, :] + wb[:, :, None] * fb[:, None, :]
    return out.to(a.dtype).reshape(n, len(t), *a.shape[1:])


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Linear interpolation: (N, T, ...)."""
    tt = t.to(a.dtype).view(1, -1, *([1] * (a.dim() - 1)))
    return a[:, None] + tt * (b - a)[:, None]


def sample_grid(variant, n: int, path: str | Path, seed: int = 0) -> Path:  # noqa: ANN001 - any Variant
    """``n`` samples in a grid (rows of n_classes for a conditional model: column k is class k),
    drawn as metrics@<run> draws them (:func:`ganlab.eval.pipeline.generate`)."""
    if n < 1:
        raise GanlabError(f"--n = {n}: draw at least one sample")
    images, labels = generate(variant, n, seed, batch_size=n)
    nrow = variant.data.n_classes if labels is not None else max(1, round(n**0.5))
    return save_grid(images, path, nrow, pad_value=1.0)


@torch.no_grad()
def interpolation_grid(variant, path: str | Path, rows: int = 8, steps: int = 8, mode: str = "slerp",  # noqa: ANN001
                       seed: int = 0) -> Path:
    """``rows`` walks of ``steps`` images each, from one random code to another (same class per
    row for a conditional model)."""
    if mode not in MODES:
        raise GanlabError(f"interpolation {mode!r}: choose one of {', '.join(MODES)}")
    if rows < 1 or steps < 2:
        raise GanlabError(f"an interpolation needs rows >= 1 and steps >= 2; got {rows} and {steps}")
    variant.nets.eval()
    g = torch.Generator(device=variant.device).manual_seed(seed)
    a, b = variant.noise(rows, generator=g), variant.noise(rows, generator=g)
    if not a.is_floating_point():
        raise GanlabError(f"{variant.name}'s latent codes are {a.dtype}, not continuous: nothing to interpolate")
    t = torch.linspace(0, 1, steps, device=a.device)
    z = (slerp if mode == "slerp" else lerp)(a, b, t).reshape(rows * steps, *a.shape[1:])
    conditional = bool(variant.conditional and variant.data.n_classes)
    y = (torch.arange(rows).repeat_interleave(steps) % variant.data.n_classes).to(variant.device) if conditional else None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        x = variant.sample(z, y).cpu()
    return save_grid(x, path, steps, pad_value=1.0)
