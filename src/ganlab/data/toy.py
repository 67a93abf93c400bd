"""The 1-D toy dataset of the GAN paper's Figure 1: samples of N(mu, sigma).

Written like every dataset: ``samples.npy`` (float32, one value per sample) plus ``dataset.json``
saying what it is and which seed drew it, so a run on it is reproducible from params alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ganlab.data.config import ToyParams
from ganlab.data.datasets import INFO_FILE
from ganlab.errors import DataFormatError
from ganlab.files import atomic_directory, write_json_atomic

SAMPLES = "samples.npy"
NAME = "toy-gaussian"


def write_toy(params: ToyParams, out: str | Path, seed: int = 0) -> dict:
    """Draw ``params.n`` samples of N(mu, sigma) with ``seed`` into the dataset folder ``out``."""
    x = np.random.default_rng(seed).normal(params.mu, params.sigma, params.n).astype(np.float32)
    info = {"name": NAME, "kind": "toy", "mu": params.mu, "sigma": params.sigma, "n": params.n, "seed": seed,
            "description": "1-D Gaussian samples, the toy of Goodfellow et al. (2014), Figure 1",
            "sample_mean": float(x.mean()), "sample_std": float(x.std())}
    with atomic_directory(Path(out), INFO_FILE) as tmp:
        with open(tmp / SAMPLES, "wb") as fh:
            np.save(fh, x)
        write_json_atomic(tmp / INFO_FILE, info)
    return info


def read_samples(root: str | Path, dims: int, what: str) -> tuple[np.ndarray, dict]:
    """(samples.npy, dataset.json) of a toy dataset folder, the samples checked to be finite floats of ``dims``
    dimensions (1: (N,); 2: (N, 2)); ``what`` names the kind in errors. The 1-D and 2-D toys share it."""
    import json

    root = Path(root)
    try:
        info = json.loads((root / INFO_FILE).read_text())
        x = np.load(root / SAMPLES, allow_pickle=False)
    except FileNotFoundError as exc:
        raise DataFormatError(f"{root}: not a {what} dataset ({exc.filename} missing); run `dvc repro toy`") from None
    except (ValueError, OSError) as exc:
        raise DataFormatError(f"{root}/{SAMPLES}: unreadable ({exc})") from None
    shape_ok = x.ndim == 1 if dims == 1 else (x.ndim == 2 and x.shape[1] == dims)
    if not shape_ok or not np.issubdtype(x.dtype, np.floating) or not np.isfinite(x).all():
        expected = "1-D floats" if dims == 1 else f"(N, {dims}) floats"
        raise DataFormatError(f"{root}/{SAMPLES}: expected finite {expected}, got {x.dtype} {x.shape}")
    return x, info


def load_toy(root: str | Path) -> tuple[np.ndarray, dict]:
    return read_samples(root, 1, "toy")
