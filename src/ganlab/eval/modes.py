"""Mode collapse on the 2-D toys, counted: which modes a generator's samples reach, how many of its
samples are good, and how evenly they spread over the modes.

The measures of Srivastava et al. (2017, VEEGAN) and Lin et al. (2018, PacGAN) on their 2-D ring and grid,
on numpy arrays: ``samples`` (N, 2) generated points, ``centres`` (M, 2) the means of the mixture's
equal isotropic Gaussians, ``std`` their standard deviation.

- A sample is **high quality** when it lies within ``quality_stds`` (3) standard deviations of the mode
  nearest to it (VEEGAN, PacGAN), distance <= 3 std; PacGAN's code takes < 3, which differs only for a
  point exactly on the circle.
- A mode is **covered** when at least ``min_samples`` high-quality samples have it as their nearest mode.
  VEEGAN counts a component as captured when it is the nearest mode of one high-quality sample or more,
  so ``min_samples`` = 1 by default; PacGAN's code counts the modes with a non-zero count, the same.
- The **share of high-quality samples** is their number over N (VEEGAN and PacGAN give it as a
  percentage; a fraction here).
- The **reverse KL** is KL(q || p) = sum_i q_i log(q_i / p_i), where q is the histogram of the high-quality
  samples over the modes (each counted at its nearest mode, normalised to sum to 1) and p the true mixture's
  weights, uniform: p_i = 1/M (PacGAN). An empty bin adds 0 (0 log 0 = 0), so q on one mode gives log M
  and q uniform gives 0. With no high-quality sample q is undefined and so is the KL: NaN.

VEEGAN and PacGAN draw 2,500 samples per trained generator (``toy2d.protocol.samples``); the numbers
returned say how many were scored, so no value travels without its protocol.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

QUALITY_STDS = 3.0  # VEEGAN, PacGAN: within three standard deviations of the nearest mode
MIN_SAMPLES = 1  # VEEGAN: a mode is captured when it is nearest to at least one high-quality sample


def nearest_modes(samples: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each sample's nearest mode (index into ``centres``, (N,) int) and its Euclidean distance to it ((N,))."""
    samples, centres = _points(samples, "samples"), _points(centres, "centres")
    if not len(centres):
        raise ValueError("centres: no modes to measure against")
    d2 = ((samples[:, None, :] - centres[None, :, :]) ** 2).sum(-1)  # (N, M)
    nearest = d2.argmin(1) if len(samples) else np.zeros(0, dtype=np.int64)
    return nearest, np.sqrt(d2[np.arange(len(samples)), nearest])


def high_quality(samples: np.ndarray, centres: np.ndarray, std: float, quality_stds: float = QUALITY_STDS
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(each sample's nearest mode, (N,) int; whether it lies within ``quality_stds`` * ``std`` of it, (N,) bool)."""
    if not std > 0 or not quality_stds > 0:
        raise ValueError(f"std = {std}, quality_stds = {quality_stds}: both must be positive")
    nearest, distance = nearest_modes(samples, centres)
    return nearest, distance <= quality_stds * std


def mode_counts(nearest: np.ndarray, good: np.ndarray, n_modes: int) -> np.ndarray:
    """(M,) int: the high-quality samples at each mode."""
    return np.bincount(nearest[good], minlength=n_modes)


def reverse_kl(counts: np.ndarray) -> float:
    """KL(q || uniform) of the histogram ``counts`` over M modes: log M - H(q), in nats; NaN when it is empty."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total == 0:
        return math.nan
    q = counts[counts > 0] / total  # empty bins add 0 log 0 = 0
    return float(np.sum(q * np.log(q * len(counts))))


def mode_measures(samples: np.ndarray, centres: np.ndarray, std: float, quality_stds: float = QUALITY_STDS,
                  min_samples: int = MIN_SAMPLES) -> dict[str, Any]:
    """The measures of VEEGAN and PacGAN on ``samples`` (see the module docstring):

    ``modes`` covered (of ``n_modes``), ``high_quality`` (the share of samples that are), ``reverse_kl``
    (NaN when no sample is high quality), ``counts`` (high-quality samples per mode) and ``protocol``
    (samples scored, quality_stds, std, min_samples)."""
    if min_samples < 1:
        raise ValueError(f"min_samples = {min_samples}: a covered mode needs at least one sample")
    centres = _points(centres, "centres")
    nearest, good = high_quality(samples, centres, std, quality_stds)
    counts = mode_counts(nearest, good, len(centres))
    n = len(nearest)
    return {
        "modes": int((counts >= min_samples).sum()),
        "n_modes": len(centres),
        "high_quality": float(good.sum() / n) if n else math.nan,
        "reverse_kl": reverse_kl(counts),
        "counts": counts.tolist(),
        "protocol": {"samples": n, "quality_stds": float(quality_stds), "std": float(std),
                     "min_samples": int(min_samples)},
    }


def _points(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"{name}: expected (n, 2) points, got shape {x.shape}")
    return x
