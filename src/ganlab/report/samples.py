"""Sample grids and latent interpolations from a trained generator (``ganlab sample``, the report).

Interpolations walk between pairs of latent codes: linearly (lerp) or along the great circle
(slerp, White 2016), which keeps a Gaussian code at the norm the generator was trained on, where
the straight line between two codes passes through the low-norm interior the prior rarely draws.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import torch

from ganlab.errors import GanlabError
from ganlab.eval.pipeline import generate
from ganlab.images import save_grid

log = logging.getLogger(__name__)

MODES = ("lerp", "slerp")
#: the most samples one grid draws: 32 x 32, a 2,082 px square PNG at 64 px; 1,024 RGB 64 px images are
#: 48 MiB as float32, and the generator's activations a few times that
MAX_SAMPLES = 1024
#: the most values (n x C x H x W) one grid's images may hold, 1 GiB as float32: a generator of larger
#: pictures draws fewer of them (1,024 at 3 x 256 x 256, 85 at 3 x 1,024 x 1,024)
MAX_GRID_VALUES = 2**28
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def check_sample_options(n: int, out: str | Path, seed: int, interpolate: bool, steps: int, mode: str) -> Path:
    """The options of ``ganlab sample`` checked before any model is read: the number of samples, the
    walk's steps and mode, the seed and the PNG to write (see :func:`check_png_out`); returns ``out``."""
    if not 1 <= n <= MAX_SAMPLES:
        raise GanlabError(f"--n = {n} is out of range; allowed: 1 <= n <= {MAX_SAMPLES} (a 32 x 32 grid)")
    if interpolate and not 2 <= steps <= MAX_SAMPLES:
        raise GanlabError(f"--steps = {steps} is out of range with --interpolate; allowed: 2 <= steps <= "
                          f"{MAX_SAMPLES} (a walk shows both of its ends)")
    if mode not in MODES:
        raise GanlabError(f"--mode = {mode!r} is not allowed; choose one of: {', '.join(MODES)}")
    if not 0 <= seed < 2**63:
        raise GanlabError(f"--seed = {seed} is out of range; allowed: 0 <= seed < 2**63")
    return check_png_out(Path(out))


def check_png_out(out: Path, option: str = "--out") -> Path:
    """``out`` if a PNG may be written there without losing anything: it ends in .png, its folder exists
    and is writable, and it is not a folder or a file other than a PNG (an existing PNG is replaced)."""
    if out.suffix.lower() != ".png":
        raise GanlabError(f"{option} {out}: the grid is a PNG; give a path ending in .png")
    parent = out.parent
    if not parent.is_dir():
        raise GanlabError(f"{option} {out}: its folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise GanlabError(f"{option} {out}: its folder {parent} is not writable")
    if out.is_dir():
        raise GanlabError(f"{option} {out} is a folder; give the path of a .png file")
    if out.exists():
        try:
            with open(out, "rb") as fh:
                is_png = fh.read(len(PNG_SIGNATURE)) == PNG_SIGNATURE
        except OSError as exc:
            raise GanlabError(f"{option} {out}: cannot read what is there ({exc.strerror})") from None
        if not is_png:
            raise GanlabError(f"{option} {out} exists and is not a PNG; ganlab replaces only PNGs: move it or "
                              "give another path")
    return out


def check_grid_size(variant, n: int) -> None:  # noqa: ANN001 - any Variant
    """Refuse a grid whose images would not fit :data:`MAX_GRID_VALUES` at the generator's picture size."""
    values = n * math.prod(variant.data.shape)
    if values > MAX_GRID_VALUES:
        most = MAX_GRID_VALUES // math.prod(variant.data.shape)
        raise GanlabError(f"--n = {n}: {n} samples of {variant.name}'s shape {tuple(variant.data.shape)} hold "
                          f"{values * 4 / 2**30:.1f} GiB; at most {most} at this shape")


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
    check_grid_size(variant, n)
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
    check_grid_size(variant, rows * steps)
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
