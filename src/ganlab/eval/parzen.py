"""The Parzen-window log-likelihood of the GAN paper (Goodfellow et al. 2014, Table 1; the estimator
of Breuleux et al. 2011): an isotropic Gaussian kernel density on generated samples, its width
sigma chosen by the likelihood of a validation set, then the mean log-likelihood of the test set
in nats with its standard error. Pixels are scaled to [0, 1] and flattened.

    log p(x) = logsumexp_i( -|x - s_i|^2 / (2 sigma^2) ) - log N - (D / 2) log(2 pi sigma^2)

The published MNIST figure is 225 +- 2 nats (10,000 samples). Theis et al. (2016) showed this
estimate says little about sample quality: in 784 dimensions it needs far more samples than
anyone draws, and a model that stores the training set scores well. ganlab reports it because the
paper did, with that caveat beside it.

The squared distances do not depend on sigma, so each block of them is computed once (a matrix
product) and every sigma of the grid is scored from it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ganlab.errors import GanlabError

#: the grid of the GAN paper's code (10 values from 0.1 to 1, log-spaced)
SIGMAS = tuple(float(s) for s in np.logspace(-1.0, 0.0, 10))
CAVEAT = ("a Gaussian kernel density on the samples, not the model's likelihood; in 784 dimensions it rewards "
          "memorising the training set and says little about sample quality (Theis et al. 2016)")


def as_unit_vectors(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    """uint8 images (any layout) as float64 rows in [0, 1]: (N, D)."""
    x = torch.as_tensor(np.asarray(images)) if not torch.is_tensor(images) else images
    if x.dtype != torch.uint8:
        raise GanlabError(f"Parzen estimates take uint8 images; got {x.dtype}")
    if len(x) == 0:
        raise GanlabError("Parzen estimates need at least one image in each set")
    return x.reshape(len(x), -1).double() / 255.0


def log_likelihoods(samples: torch.Tensor, x: torch.Tensor, sigmas: tuple[float, ...] = SIGMAS,
                    block: int = 500) -> torch.Tensor:
    """(len(sigmas), M): log p(x_m) under the Parzen window of ``samples`` (N, D) for each sigma."""
    if samples.dim() != 2 or x.dim() != 2 or samples.shape[1] != x.shape[1]:
        raise GanlabError(f"samples and data must be (N, D) with one D; got {tuple(samples.shape)} and {tuple(x.shape)}")
    if not sigmas or not all(math.isfinite(sg) and sg > 0 for sg in sigmas):
        raise GanlabError(f"sigmas must be positive; got {sigmas}")
    n, d = samples.shape
    s_sq = (samples * samples).sum(1)
    sig = torch.tensor(sigmas, dtype=torch.float64).view(-1, 1, 1)
    norm = math.log(n) + 0.5 * d * torch.log(2 * math.pi * sig.view(-1) ** 2)
    out = []
    for start in range(0, len(x), block):
        xb = x[start : start + block]
        d2 = ((xb * xb).sum(1, keepdim=True) + s_sq[None, :] - 2.0 * xb @ samples.T).clamp_min_(0)
        out.append(torch.logsumexp(-d2[None] / (2 * sig**2), dim=2) - norm[:, None])
    return torch.cat(out, dim=1)


def parzen_log_likelihood(samples: torch.Tensor | np.ndarray, validation: torch.Tensor | np.ndarray,
                          test: torch.Tensor | np.ndarray, sigmas: tuple[float, ...] = SIGMAS) -> dict[str, Any]:
    """Sigma with the best mean validation log-likelihood, then the test set's mean log-likelihood
    (nats per image) and its standard error, with the grid and the protocol."""
    s, v, t = as_unit_vectors(samples), as_unit_vectors(validation), as_unit_vectors(test)
    val = log_likelihoods(s, v, sigmas).mean(1)
    best = int(torch.argmax(val))
    ll = log_likelihoods(s, t, (sigmas[best],))[0]
    return {
        "log_likelihood": float(ll.mean()),
        "std_error": float(ll.std(unbiased=True) / math.sqrt(len(ll))) if len(ll) > 1 else float("nan"),
        "sigma": sigmas[best],
        "validation_log_likelihood": {f"{sg:.4g}": float(vv) for sg, vv in zip(sigmas, val.tolist())},
        "protocol": {"n_samples": len(s), "n_validation": len(v), "n_test": len(t), "dimensions": s.shape[1],
                     "pixels": "uint8 / 255, in [0, 1]", "units": "nats per image",
                     "sigma_grid": list(sigmas), "published": "GAN 225 +- 2 on MNIST (Goodfellow et al. 2014, Table 1)",
                     "caveat": CAVEAT},
    }
