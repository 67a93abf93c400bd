"""Where the networks run, and in which precision: chosen here, once, for every stage.

Training (ganlab.train), the transfer test and the sampling commands all take a device name
from params.yaml (``auto``, ``cpu``, ``cuda``, ``cuda:1``, ``mps``); this module is the only
place that turns it into a torch device, so ``auto`` means the same everywhere.
"""

from __future__ import annotations

import torch


def pick_device(name: str = "auto") -> torch.device:
    """The torch device for ``name``; ``auto`` = cuda, then mps, then cpu."""
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def autocast_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``amp`` on ``device``, or None for plain float32.

    bfloat16 has float32's exponent range, so GAN losses need no gradient scaler (float16
    would, and its scaler does not compose with the gradient penalty's double backward).
    """
    if amp == "off":
        return None
    if amp == "bf16":
        return torch.bfloat16
    if amp != "auto":
        raise ValueError(f"amp = {amp!r}; choose auto, bf16 or off")
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None
