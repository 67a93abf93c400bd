"""The 2-D toys of the mode-collapse literature: 8 Gaussians on a ring and 25 on a 5 x 5 grid.

Metz et al. (2017, Unrolled GAN) drew the ring; Srivastava et al. (2017, VEEGAN) added the grid and
scored a generator by the modes its samples reach; Lin et al. (2018, PacGAN) kept both and added a
reverse KL. Each is a mixture of equal, isotropic Gaussians with known means, so mode collapse can be
counted rather than judged by eye (ganlab.eval.modes does the counting).

Written like every dataset: ``samples.npy`` (float32, (N, 2)) plus ``dataset.json`` holding what the
measures need (the mode centres, the std, the scoring protocol of ``toy2d.protocol``), the seed that
drew the points and the papers, so a run on it is reproducible and scored from its data alone.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ganlab.data.config import GridParams, ModesProtocolParams, RingParams
from ganlab.data.datasets import INFO_FILE
from ganlab.data.toy import read_samples
from ganlab.errors import DataFormatError
from ganlab.files import atomic_directory, write_json_atomic

SAMPLES = "samples.npy"
KIND = "toy2d"
RING, GRID = "toy-ring", "toy-grid"
#: each dataset's own random stream beside the global seed: the ring and the grid never share draws
STREAMS = {RING: 1, GRID: 2}
PAPERS = ["Metz et al. 2017, Unrolled Generative Adversarial Networks (the ring)",
          "Srivastava et al. 2017, VEEGAN (the grid; modes covered, high-quality samples)",
          "Lin et al. 2018, PacGAN (the same ring and grid; reverse KL of the modes' histogram)"]


def ring_centres(params: RingParams) -> np.ndarray:
    """(modes, 2): the means at angles 2*pi*k/modes on a circle of ``radius``, the first at (radius, 0)."""
    angles = 2 * math.pi * np.arange(params.modes) / params.modes
    return params.radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def grid_centres(params: GridParams) -> np.ndarray:
    """(side**2, 2): the means of a ``side`` x ``side`` lattice ``spacing`` apart, centred on the origin,
    row by row (x varies fastest)."""
    axis = (np.arange(params.side) - (params.side - 1) / 2) * params.spacing
    ys, xs = np.meshgrid(axis, axis, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def draw_mixture(centres: np.ndarray, std: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 2) float32 points: each from a mode drawn uniformly, plus N(0, std^2 I)."""
    modes = rng.integers(len(centres), size=n)
    return (centres[modes] + rng.normal(0.0, std, (n, 2))).astype(np.float32)


def write_toy2d(name: str, params: RingParams | GridParams, protocol: ModesProtocolParams, out: str | Path,
                seed: int = 0) -> dict:
    """Draw ``params.n`` points of the ring or grid ``name`` (toy-ring, toy-grid) with ``seed`` into the
    dataset folder ``out``; return its dataset.json."""
    if name not in STREAMS:
        raise DataFormatError(f"{out}: {name!r} is not a 2-D toy; toys: {', '.join(STREAMS)}")
    centres = ring_centres(params) if name == RING else grid_centres(params)
    rng = np.random.default_rng([seed, STREAMS[name]])
    x = draw_mixture(centres, params.std, params.n, rng)
    what = (f"{params.modes} Gaussians on a circle of radius {params.radius}" if name == RING else
            f"{params.side} x {params.side} Gaussians on a grid {params.spacing} apart")
    info = {"name": name, "kind": KIND, "description": f"2-D points: {what}, std {params.std}",
            "n": params.n, "seed": seed, "stream": STREAMS[name], "std": params.std,
            "modes": centres.tolist(),
            "protocol": {"samples": protocol.samples, "quality_stds": protocol.quality_stds,
                         "min_samples": protocol.min_samples},
            "papers": PAPERS}
    with atomic_directory(Path(out), INFO_FILE) as tmp:
        with open(tmp / SAMPLES, "wb") as fh:
            np.save(fh, x)
        write_json_atomic(tmp / INFO_FILE, info)
    return info


def load_toy2d(root: str | Path) -> tuple[np.ndarray, np.ndarray, dict]:
    """(the points, (N, 2) float32; the mode centres, (M, 2); dataset.json) of the 2-D toy in ``root``."""
    root = Path(root)
    x, info = read_samples(root, 2, "2-D toy")
    centres = np.asarray(info.get("modes", []), dtype=np.float64)
    if centres.ndim != 2 or centres.shape[1:] != (2,) or not len(centres):
        raise DataFormatError(f"{root / INFO_FILE}: modes = {info.get('modes')!r:.60} is not a list of (x, y) centres")
    return x, centres, info
