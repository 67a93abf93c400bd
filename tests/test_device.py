"""Device and precision choices (ganlab.device)."""

from __future__ import annotations

import torch


def test_amp_auto_is_float32_on_cpu_and_bf16_autocast_trains():
    from ganlab.device import autocast_dtype

    assert autocast_dtype("auto", torch.device("cpu")) is None
    assert autocast_dtype("off", torch.device("cuda")) is None
    assert autocast_dtype("bf16", torch.device("cpu")) is torch.bfloat16
