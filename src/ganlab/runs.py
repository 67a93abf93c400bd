"""A run's folder and the two model files in it: one owner for their names and formats.

Stage train@<run> writes ``data/models/<run>/``; metrics, transfer, the report and ``ganlab
sample`` read it. :class:`RunDir` names what is in the folder, so no other module spells a file
name. The files:

- ``checkpoint.pt``: where training stands (step, variant name, settings fingerprint, every
  network and optimizer, each process's RNG state). The trainer resumes from it; the transfer
  test takes a trained discriminator out of it.
- ``generator.pt``: only what sampling needs (the variant's name, its config, the data spec,
  the step, the memory format and the generator roles' weights), rebuilt by
  :func:`load_generator` without the run's params.yaml.

Both are one ``torch.save`` of a plain dict, written atomically and read with
``weights_only=True`` (no pickled code is ever run). The dicts' keys and their order are the
format: the same weights give the same bytes.
"""

from __future__ import annotations

import dataclasses
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ganlab.errors import GanlabError
from ganlab.files import atomic_write
from ganlab.models import registry
from ganlab.models.base import DataSpec, Variant

MODELS = "models"  # DATA_ROOT/models/<run>: every run's folder


def models_root(data_root: str | Path = "data") -> Path:
    """The folder that holds every run's folder: DATA_ROOT/models."""
    return Path(data_root) / MODELS


@dataclass(frozen=True)
class RunDir:
    """The folder of one run (``RunDir.of("dcgan")`` is data/models/dcgan) and what is in it."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))  # a str is welcome too

    @classmethod
    def of(cls, name: str, data_root: str | Path = "data") -> RunDir:
        """Run ``name``'s folder under DATA_ROOT/models, where stage train@<name> writes it."""
        return cls(models_root(data_root) / name)

    @property
    def checkpoint(self) -> Path:
        """checkpoint.pt: what resuming needs (see :func:`write_checkpoint`)."""
        return self.root / "checkpoint.pt"

    @property
    def generator(self) -> Path:
        """generator.pt: what sampling needs (see :func:`export_generator`)."""
        return self.root / "generator.pt"

    @property
    def summary(self) -> Path:
        """train_summary.json: the last losses, the loss history, the monitor's and test scores."""
        return self.root / "train_summary.json"

    @property
    def samples(self) -> Path:
        """samples/: the fixed-noise grids (step_N.png, or step_N.txt for text) and the variant's figures."""
        return self.root / "samples"

    @property
    def dvclive(self) -> Path:
        """dvclive/: the logged series, for ``dvc plots``."""
        return self.root / "dvclive"

    @property
    def lock(self) -> Path:
        """.lock: locked by the process that trains in the folder, and naming it (``ganlab.files.folder_lock``)."""
        return self.root / ".lock"

    def entries(self) -> tuple[Path, ...]:
        """Everything a run writes in its folder; ``foreign`` is what else is there."""
        return (self.checkpoint, self.generator, self.summary, self.samples, self.dvclive, self.lock)

    def foreign(self) -> list[str]:
        """What in the folder a run did not write, when the folder holds no run: [] for a missing or empty
        folder, and for one that holds a run (checkpoint, summary or generator; a run never touches the other
        files of its folder). Own are a run's files, the temporary file of an interrupted atomic write
        (``.<name>.<random>.tmp``) and the ``.gitignore`` DVC writes beside a stage's outputs."""
        if not self.root.is_dir() or any(p.exists() for p in (self.checkpoint, self.summary, self.generator)):
            return []
        own = {p.name for p in self.entries()} | {".gitignore"}
        return sorted(n for n in os.listdir(self.root)
                      if n not in own and not (n.startswith(".") and n.endswith(".tmp")))


# --------------------------------------------------------------------------- building a variant


def data_spec_from_dict(spec: Mapping[str, Any]) -> DataSpec:
    """A :class:`DataSpec` from its ``dataclasses.asdict`` form (JSON- and weights_only-safe);
    fields added to DataSpec later take their defaults when an older file lacks them."""
    return DataSpec(tuple(spec["shape"]), int(spec["n_classes"]), int(spec.get("vocab", 0)),
                    tuple(spec.get("words", ())), int(spec.get("end_token", -1)))


def build_variant(variant: str, config: Any, data: DataSpec | Mapping[str, Any],
                  device: torch.device | str = "cpu") -> Variant:
    """The registered ``variant`` built with fresh weights (drawn from torch's global RNG):
    ``config`` is its Config or the dict of one (as generator.pt records it), ``data`` a
    DataSpec or the dict of one."""
    cls = registry.get(variant)
    if isinstance(config, Mapping):
        config = cls.Config(**config)
    spec = data if isinstance(data, DataSpec) else data_spec_from_dict(data)
    return cls(config, spec, torch.device(device))


# --------------------------------------------------------------------------- checkpoint.pt


class UnreadableCheckpoint(GanlabError):
    """A checkpoint file that torch cannot read, or that lacks what every checkpoint holds."""


@dataclass(frozen=True)
class Checkpoint:
    """The content of checkpoint.pt."""

    step: int
    variant: str  # the registered variant name
    fingerprint: str | None  # of everything that shapes the weights (None: written before fingerprints)
    model: dict[str, Any]  # Variant.state_dict(): networks ("nets") and optimizers
    rng: list[dict[str, Any]]  # per process: {"cpu": its CPU RNG state, "cuda": its CUDA states or []}


def write_checkpoint(path: str | Path, checkpoint: Checkpoint) -> Path:
    """Write ``checkpoint`` to ``path`` atomically (an interrupted write leaves the old file)."""
    state = {  # the format: these keys in this order
        "step": checkpoint.step,
        "variant": checkpoint.variant,
        "fingerprint": checkpoint.fingerprint,
        "model": checkpoint.model,
        "rng": checkpoint.rng,
    }
    return _save(state, Path(path))


def read_checkpoint(path: str | Path, map_location: torch.device | str = "cpu") -> Checkpoint:
    """The checkpoint at ``path``, its tensors on ``map_location``; UnreadableCheckpoint names the
    file when torch cannot read it or it is not a checkpoint; a missing file raises FileNotFoundError."""
    path = Path(path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001 - any unreadable file is reported the same way
        raise UnreadableCheckpoint(f"{path}: not a readable checkpoint ({exc})") from None
    missing = [k for k in ("step", "variant", "model", "rng") if not isinstance(state, dict) or k not in state]
    if missing:
        raise UnreadableCheckpoint(f"{path}: not a readable checkpoint (it has no {', '.join(missing)})")
    return Checkpoint(int(state["step"]), state["variant"], state.get("fingerprint"), state["model"], state["rng"])


# --------------------------------------------------------------------------- generator.pt


def export_generator(variant: Variant, path: str | Path, step: int, channels_last: bool) -> Path:
    """Write what sampling from ``variant`` needs and nothing else (no discriminator, no
    optimizer) to ``path``, atomically. ``channels_last``: the memory format it trained in, so
    that :func:`load_generator` reproduces its samples bit for bit."""
    state = {  # the format: these keys in this order
        "variant": variant.name,
        "config": dataclasses.asdict(variant.config),
        "data": dataclasses.asdict(variant.data),
        "step": step,
        "channels_last": channels_last,
        "roles": {role: variant.nets[role].state_dict() for role in variant.generator_roles},
    }
    return _save(state, Path(path))


def load_generator(path: str | Path, device: torch.device | str = "cpu") -> Variant:
    """The variant of a generator.pt, rebuilt with its config and its generator weights loaded.

    Only the generator roles hold trained weights; call ``.sample(.noise(n))`` under no_grad
    after ``.nets.eval()``.
    """
    path = Path(path)
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise GanlabError(f"{path}: no such generator file") from None
    except Exception as exc:  # noqa: BLE001
        raise GanlabError(f"{path}: not a readable generator file ({exc})") from None
    variant = build_variant(state["variant"], state["config"], state["data"], device)
    if state.get("channels_last"):
        variant.nets.to(memory_format=torch.channels_last)
    for role, weights in state["roles"].items():
        variant.nets[role].load_state_dict(weights)
    return variant


def _save(state: dict[str, Any], path: Path) -> Path:
    # serialised in memory first, so the file is replaced in one write (torch.save streams)
    buf = io.BytesIO()
    torch.save(state, buf)
    with atomic_write(path) as fh:
        fh.write(buf.getvalue())
    return path
