"""Device and precision choices (ganlab.device)."""

from __future__ import annotations

import pytest
import torch

from ganlab.errors import GanlabError


def test_amp_auto_is_float32_on_cpu_and_bf16_autocast_trains():
    from ganlab.device import autocast_dtype

    assert autocast_dtype("auto", torch.device("cpu")) is None
    assert autocast_dtype("off", torch.device("cuda")) is None
    assert autocast_dtype("bf16", torch.device("cpu")) is torch.bfloat16


def machine(monkeypatch, gpus: int, mps: bool = False) -> None:
    """Make torch see ``gpus`` CUDA devices and mps or not, whatever this machine has."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpus > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)


@pytest.mark.parametrize("gpus, mps, name, here", [
    (0, False, "cuda", "cpu"),
    (0, False, "cuda:0", "cpu"),
    (1, False, "cuda:3", "cpu, cuda:0"),
    (2, False, "cuda:2", "cpu, cuda:0, cuda:1"),
    (0, False, "mps", "cpu"),
    (1, False, "mps", "cpu, cuda:0"),
])
def test_a_device_this_machine_lacks_is_named_with_the_devices_it_has(monkeypatch, gpus, mps, name, here):
    from ganlab.device import pick_device

    machine(monkeypatch, gpus, mps)
    with pytest.raises(GanlabError) as err:
        pick_device(name)
    assert str(err.value) == f"device {name!r} does not exist on this machine; devices here: {here} (or auto, the " \
                             "first of cuda, mps, cpu)"


@pytest.mark.parametrize("name", ["gpu9", "cuda:-1", "cuda:x", "CPU", "", "cuda:0,1", "x" * 1000])
def test_a_name_that_is_no_device_is_refused_in_a_short_line(monkeypatch, name):
    from ganlab.device import pick_device

    machine(monkeypatch, 1)
    with pytest.raises(GanlabError, match=r"^device '.*' is not a device name; use one of: auto, cpu, cuda, cuda:N "
                                          r"\(N = 0, 1, \.\.\.\), mps$") as err:
        pick_device(name)
    assert len(str(err.value)) < 200


@pytest.mark.parametrize("gpus, mps, name, device", [
    (0, False, "auto", "cpu"), (0, True, "auto", "mps"), (2, True, "auto", "cuda"),
    (0, False, "cpu", "cpu"), (2, False, "cuda", "cuda"), (2, False, "cuda:1", "cuda:1"), (0, True, "mps", "mps"),
])
def test_a_device_this_machine_has_is_picked(monkeypatch, gpus, mps, name, device):
    from ganlab.device import pick_device

    machine(monkeypatch, gpus, mps)
    assert pick_device(name) == torch.device(device)  # torch.device() itself checks nothing
