"""Where the networks run, and in which precision: chosen here, once, for every stage.

Training (ganlab.train), the transfer test and the sampling commands all take a device name
from params.yaml (``auto``, ``cpu``, ``cuda``, ``cuda:1``, ``mps``); this module is the only
place that turns it into a torch device, so ``auto`` means the same everywhere.
"""

from __future__ import annotations

import torch

from ganlab.errors import GanlabError
from ganlab.schema import shown
from ganlab.train.config import DEVICE_FORMS, DEVICE_NAME


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def devices_here() -> list[str]:
    """The devices this machine has, as params name them: cpu, then each GPU (cuda:0, ...), then mps."""
    gpus = [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    return ["cpu", *gpus, *(["mps"] if _mps_available() else [])]


def pick_device(name: str = "auto") -> torch.device:
    """The torch device for ``name``; ``auto`` = cuda, then mps, then cpu.

    A name that is not a device (``gpu9``), or a device this machine does not have (``cuda`` without a GPU,
    ``cuda:3`` beside one GPU, ``mps`` off a Mac), is a GanlabError naming it and the devices here, before
    any tensor is moved: torch would fail later, at the first tensor, with a traceback."""
    if not (isinstance(name, str) and DEVICE_NAME.fullmatch(name)):
        raise GanlabError(f"device {shown(name)} is not a device name; use one of: {DEVICE_FORMS}")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    here = devices_here()
    if name.startswith("cuda"):
        index = int(name.partition(":")[2] or 0)  # plain "cuda" is the current GPU, cuda:0 unless set otherwise
        exists = torch.cuda.is_available() and index < torch.cuda.device_count()
    else:
        exists = name in here
    if not exists:
        raise GanlabError(f"device {name!r} does not exist on this machine; devices here: {', '.join(here)} "
                          "(or auto, the first of cuda, mps, cpu)")
    return torch.device(name)


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
