"""One MLE pre-training shared by several runs: a run starts from another run's snapshot (``pretrained_from``).

SeqGAN and MaliGAN begin with ``pretrain_steps`` steps of MLE that are, step for step, what seq_mle does: the
same generator drawn from the same seed, the same Adam, the same batches (a function of the seed alone), and no
draw from the global RNG. Runs of one study that share their data, seed, batch size and language-model settings
therefore repeat one computation. A run keeps its state at the steps of its ``train.snapshot_steps``
(``snapshots/step_N.pt``: the pre-trained network, its optimizer, every process's RNG state and the scores so
far, see ganlab.runs); a run naming it in ``pretrained_from`` builds its networks as always (its discriminator
from its own seed), takes the snapshot at its ``pretrain_steps`` for its generator, optimizer, RNG state and
step, and trains on from there. What it computes is what the run that pre-trains itself computes, bit for bit
(tests/train/test_pretraining.py), and the report shows the shared MLE curve as its pre-training.

Nothing is loaded before the snapshot is checked: its bytes, format and types (ganlab.runs.read_snapshot), then
its settings against this run's (a one-line error naming the key that differs), then its tensors' names and
shapes against the network and optimizer they go into. The snapshot's SHA-256 is part of the run's fingerprint:
a run started from another pre-training is not resumed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ganlab.errors import GanlabError
from ganlab.files import CHUNK, write_json_atomic
from ganlab.models import registry
from ganlab.models.base import Variant
from ganlab.runs import RunDir, Snapshot, UnreadableSnapshot, read_snapshot, write_snapshot
from ganlab.schema import shown


class PretrainingMismatch(GanlabError):
    """A snapshot that is missing, or is not this run's own pre-training (other settings, other networks)."""


@dataclass(frozen=True)
class Pretrained:
    """Where a run's pre-training comes from: run ``run``'s snapshot at ``step``, the file ``path``."""

    run: str
    step: int
    path: Path

    @classmethod
    def of(cls, run: str, step: int, data_root: str | Path = "data") -> Pretrained:
        """Run ``run``'s snapshot at ``step``, in its folder under DATA_ROOT/models."""
        return cls(run, step, RunDir.of(run, data_root).snapshot(step))


def snapshot_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """What a snapshot records of the trainer's settings (its fingerprint's parts): all but the code's hash, which
    differs between variants that share the MLE phase (and would make a docstring edit re-run every run
    starting from the snapshot)."""
    return {key: settings[key] for key in ("config", "data", "train")}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def open_snapshot(pretrained: Pretrained, variant: Variant, settings: dict[str, Any]) -> tuple[Snapshot, str]:
    """The snapshot ``pretrained`` names, checked to be this run's own pre-training, and its file's SHA-256.
    ``settings``: this run's (the trainer's fingerprint parts, as JSON reads them back)."""
    path, where = pretrained.path, f"pretrained_from: {pretrained.run}"
    if variant.pretraining is None:
        raise PretrainingMismatch(f"{where}: variant {variant.name!r} has no MLE pre-training to start from")
    try:
        snap = read_snapshot(path, map_location=variant.device)
    except FileNotFoundError:
        raise PretrainingMismatch(f"{path}: missing; {pretrained.run} keeps it when its train.snapshot_steps list "
                                  f"{pretrained.step} (`dvc repro train@{pretrained.run}`) ({where})") from None
    check_settings(snap, pretrained, variant, settings)
    check_state(snap, variant, path)
    return snap, sha256(path)


def check_settings(snap: Snapshot, pretrained: Pretrained, variant: Variant, settings: dict[str, Any]) -> None:
    """Refuse a snapshot whose step, data, seed, batch size, precision, processes or MLE settings are not this
    run's: one line naming the key and both values."""
    path, fields = pretrained.path, variant.pretraining.fields

    def refuse(key: str, theirs: Any, mine: Any) -> PretrainingMismatch:
        return PretrainingMismatch(
            f"{path}: {pretrained.run}'s pre-training has {key} = {shown(theirs)}, this run {shown(mine)}: a run "
            f"starts from another's pre-training (pretrained_from: {pretrained.run}) only with the same data, seed, "
            f"batch size, amp and {', '.join(fields)}, which make it its own first steps")

    if snap.step != pretrained.step:
        raise refuse("step", snap.step, pretrained.step)
    source = registry.get(snap.variant)
    if source.pretraining is None or source.pretraining.fields != fields:
        raise refuse("variant", snap.variant, variant.name)
    mine = json.loads(json.dumps(settings, default=str))
    for f in fields:
        if snap.settings["config"].get(f) != mine["config"].get(f):
            raise refuse(f"model.{f}", snap.settings["config"].get(f), mine["config"].get(f))
    if snap.settings["data"] != mine["data"]:
        theirs, ours = snap.settings["data"], mine["data"]
        key = "data (its files)" if theirs[0] == ours[0] else "data (its shape or vocabulary)"
        raise refuse(key, theirs[1] if theirs[0] == ours[0] else theirs[0], ours[1] if theirs[0] == ours[0] else ours[0])
    for key, value in mine["train"].items():
        if snap.settings["train"].get(key) != value:
            raise refuse(f"train.{key}", snap.settings["train"].get(key), value)


def check_state(snap: Snapshot, variant: Variant, path: Path) -> None:
    """Refuse a snapshot whose tensors do not fit the network and optimizer they go into (names, shapes, dtypes,
    the optimizer's settings) or whose RNG states are not torch's, before anything is loaded."""
    p = variant.pretraining
    error = UnreadableSnapshot
    expected = variant.nets[p.network].state_dict()
    for key in [*expected, *snap.network]:
        if key not in expected or key not in snap.network:
            where = "the file lacks it" if key not in snap.network else f"{variant.name}'s {p.network} has no such tensor"
            raise error(f"{path}: network.{key}: {where}")
        want, got = expected[key], snap.network[key]
        if tuple(want.shape) != tuple(got.shape) or want.dtype != got.dtype:
            raise error(f"{path}: network.{key} is {tuple(got.shape)} {got.dtype} in the file, {variant.name}'s "
                        f"{p.network} holds {tuple(want.shape)} {want.dtype}")
    params = [q for group in variant.optimizers[p.optimizer].param_groups for q in group["params"]]
    mine = variant.optimizers[p.optimizer].state_dict()["param_groups"]
    groups = snap.optimizer["param_groups"]
    if len(groups) != len(mine):
        raise error(f"{path}: optimizer.param_groups holds {len(groups)} groups, {variant.name}'s {len(mine)}")
    for i, (theirs, ours) in enumerate(zip(groups, mine)):
        for key in sorted(set(theirs) | set(ours)):
            a, b = theirs.get(key), ours.get(key)
            if (list(a) if isinstance(a, (list, tuple)) else a) != (list(b) if isinstance(b, (list, tuple)) else b):
                raise error(f"{path}: optimizer.param_groups[{i}].{key} = {shown(a)}, {variant.name}'s optimizer "
                            f"has {shown(b)}")
    names: set[str] | None = None
    for index, entry in snap.optimizer["state"].items():
        if index >= len(params):
            raise error(f"{path}: optimizer.state.{index}: the optimizer has {len(params)} parameters")
        names = names or set(entry)
        if set(entry) != names:
            raise error(f"{path}: optimizer.state.{index} holds {', '.join(sorted(entry))}, others "
                        f"{', '.join(sorted(names))}")
        for key, tensor in entry.items():  # a per-parameter moment has the parameter's shape, a count none
            if tensor.dim() and (tuple(tensor.shape) != tuple(params[index].shape) or tensor.dtype != params[index].dtype):
                raise error(f"{path}: optimizer.state.{index}.{key} is {tuple(tensor.shape)} {tensor.dtype}, its "
                            f"parameter {tuple(params[index].shape)} {params[index].dtype}")
    size = torch.get_rng_state().numel()
    for i, entry in enumerate(snap.rng):
        if entry["cpu"].numel() != size:
            raise error(f"{path}: rng[{i}].cpu holds {entry['cpu'].numel()} bytes; torch's CPU RNG state is {size}")


def load(snap: Snapshot, variant: Variant, rank: int) -> None:
    """Put a checked snapshot's network, optimizer and RNG state (process ``rank``'s) into ``variant`` and torch."""
    p = variant.pretraining
    variant.nets[p.network].load_state_dict(snap.network)
    variant.optimizers[p.optimizer].load_state_dict(snap.optimizer)
    rng = snap.rng[rank] if rank < len(snap.rng) else snap.rng[0]
    torch.set_rng_state(rng["cpu"].cpu())
    if rng["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in rng["cuda"]])


def make_snapshot(variant: Variant, step: int, settings: dict[str, Any], evals: list[dict[str, Any]],
                  protocol: dict[str, Any], rng: list[dict[str, Any]]) -> Snapshot:
    """The snapshot of ``variant``'s pre-training at ``step`` (``evals``: the scores so far; ``rng``: every
    process's RNG state), with the settings that shaped it."""
    p = variant.pretraining
    return Snapshot(step, variant.name, snapshot_settings(settings), [dict(e) for e in evals],
                    json.loads(json.dumps(protocol, default=str)), variant.nets[p.network].state_dict(),
                    variant.optimizers[p.optimizer].state_dict(), rng)


def keep(run_dir: RunDir, snap: Snapshot) -> Path:
    """Write ``snap`` to the run's snapshots/ and list it in the index."""
    path = write_snapshot(run_dir.snapshot(snap.step), snap)
    write_index(run_dir)
    return path


def write_index(run_dir: RunDir) -> None:
    """snapshots/index.json: the steps whose snapshots the folder holds (the folder is a train stage's output and
    DVC warns about an empty one)."""
    steps = sorted(int(p.stem.split("_", 1)[1]) for p in run_dir.snapshots.glob("step_*.pt")
                   if p.stem.split("_", 1)[1].isdigit())
    write_json_atomic(run_dir.snapshot_index, {
        "about": "the run's MLE pre-training at these steps (train.snapshot_steps), for the runs that start from "
                 "it (pretrained_from); step_N.pt each", "steps": steps})


def tidy(run_dir: RunDir, steps: tuple[int, ...]) -> None:
    """Remove snapshots of steps no longer in ``steps`` (train.snapshot_steps), and write the index."""
    run_dir.snapshots.mkdir(parents=True, exist_ok=True)
    for path in run_dir.snapshots.glob("step_*.pt"):
        step = path.stem.split("_", 1)[1]
        if not (step.isdigit() and int(step) in steps):
            path.unlink()
    write_index(run_dir)


def kept(run_dir: RunDir, step: int, settings: dict[str, Any]) -> bool:
    """Whether the run's snapshot at ``step`` is there, readable and of these settings."""
    try:
        snap = read_snapshot(run_dir.snapshot(step))
    except (FileNotFoundError, GanlabError):
        return False
    return snap.step == step and snap.settings == json.loads(json.dumps(snapshot_settings(settings), default=str))
