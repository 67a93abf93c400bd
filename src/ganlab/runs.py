"""A run's folder and the two model files in it: one owner for their names, formats and checks.

Stage train@<run> writes ``data/models/<run>/``; metrics, transfer, the report and ``ganlab
sample`` read it. :class:`RunDir` names what is in the folder, so no other module spells a file
name. The files:

- ``checkpoint.pt``: where training stands (step, variant name, settings fingerprint, every
  network and optimizer, each process's RNG state). The trainer resumes from it; the transfer
  test takes a trained discriminator out of it.
- ``generator.pt``: only what sampling needs (the variant's name, its config, the data spec,
  the step, the memory format and the generator roles' weights), rebuilt by
  :func:`load_generator` without the run's params.yaml.
- ``snapshots/step_N.pt``: the MLE pre-training at step N (``train.snapshot_steps``), for the runs
  that start from it (``pretrained_from``; ganlab.train.pretraining): the pre-trained network and its
  optimizer, the RNG state, the scores so far and the settings that shaped them. Only what the weights
  depend on is written (no code hash, no time), so the same pre-training gives the same bytes and DVC
  re-runs a run that starts from it only when it changed. ``snapshots/index.json`` lists them (a run
  that keeps none has the folder all the same: it is every train stage's output).

Each is one ``torch.save`` of a plain dict whose first key, ``format``, names the kind and its
version (``ganlab-checkpoint/1``, ``ganlab-generator/1``, ``ganlab-snapshot/1``), written atomically and read with
``weights_only=True`` (no pickled code is ever run). The dicts' keys and their order are the
format: the same weights give the same bytes.

Nothing is built from a file before it is checked, in this order:

1. its bytes: torch.save writes a zip archive of stored members, each with a CRC-32; every member
   is read and its CRC checked (naming the member a change hit), and the file's SHA-256, which
   ganlab writes as the zip's comment, is checked too: the CRCs leave out the zip's headers, the
   padding that aligns each tensor and the central directory (a third of a small file's bytes);
2. what it is: its ``format`` (a checkpoint given as a generator file is named as such), its keys
   and their types; a generator's config goes through its variant's schema (the bounds of
   ``models.<run>.model``), its data spec through bounds of its own;
3. a generator's weights against its config: the variant is built on the meta device (no memory)
   and each generator role's tensor names and shapes compared with the file's, so a config that
   asks for gigabytes the file does not hold is refused before anything is allocated.

Files written before the ``format`` key and the SHA-256 (every run trained before them, and
shared artifacts) are still read: they are recognised by their keys, and their bytes are checked
by the members' CRCs alone.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import math
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from ganlab.errors import GanlabError
from ganlab.files import CHUNK, atomic_write
from ganlab.models import registry
from ganlab.models.base import DataSpec, Variant, without_optimizers
from ganlab.schema import from_dict, show

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
        """samples/: the fixed-noise grids (step_N.png; step_N.txt for text, step_N.npy for points) and the
        variant's figures."""
        return self.root / "samples"

    @property
    def generators(self) -> Path:
        """generators/: generator.pt at each checkpoint step, step_N.pt (``train.keep_generators``)."""
        return self.root / "generators"

    def generator_at(self, step: int) -> Path:
        """generators/step_N.pt, the generator at step N (not zero-padded, as snapshots)."""
        return self.generators / f"step_{step}.pt"

    def kept_generators(self) -> dict[int, Path]:
        """{step: generators/step_N.pt} of the generators kept in the folder, in step order."""
        found = {}
        for p in self.generators.glob("step_*.pt") if self.generators.is_dir() else ():
            number = p.stem.removeprefix("step_")
            if number.isdigit():
                found[int(number)] = p
        return dict(sorted(found.items()))

    @property
    def dvclive(self) -> Path:
        """dvclive/: the logged series, for ``dvc plots``."""
        return self.root / "dvclive"

    @property
    def snapshots(self) -> Path:
        """snapshots/: the pre-training snapshots the run keeps (``train.snapshot_steps``), and index.json."""
        return self.root / "snapshots"

    def snapshot(self, step: int) -> Path:
        """snapshots/step_N.pt, the pre-training at step N: not zero-padded, since dvc.yaml names it from the
        params (``step_${models.<run>.model.pretrain_steps}.pt``)."""
        return self.snapshots / f"step_{step}.pt"

    @property
    def snapshot_index(self) -> Path:
        """snapshots/index.json: the snapshots in the folder (and a folder that is never empty, as DVC wants)."""
        return self.snapshots / "index.json"

    @property
    def lock(self) -> Path:
        """.lock: locked by the process that trains in the folder, and naming it (``ganlab.files.folder_lock``)."""
        return self.root / ".lock"

    def entries(self) -> tuple[Path, ...]:
        """Everything a run writes in its folder; ``foreign`` is what else is there."""
        return (self.checkpoint, self.generator, self.summary, self.samples, self.dvclive, self.snapshots,
                self.generators, self.lock)

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
                  device: torch.device | str = "cpu", where: str = "config") -> Variant:
    """The registered ``variant`` built with fresh weights (drawn from torch's global RNG):
    ``config`` is its Config or the dict of one (checked against the Config's schema; ``where``
    names it in errors), ``data`` a DataSpec or the dict of one."""
    cls = registry.get(variant)
    if isinstance(config, Mapping):
        config = from_dict(cls.Config, dict(config), where)
    spec = data if isinstance(data, DataSpec) else data_spec_from_dict(data)
    return cls(config, spec, torch.device(device))


# --------------------------------------------------------------------------- what every model file is

GENERATOR_FORMAT = "ganlab-generator/1"
CHECKPOINT_FORMAT = "ganlab-checkpoint/1"
SNAPSHOT_FORMAT = "ganlab-snapshot/1"
#: each format's keys after "format", in the order they are written
_KEYS = {
    GENERATOR_FORMAT: ("variant", "config", "data", "step", "channels_last", "roles"),
    CHECKPOINT_FORMAT: ("step", "variant", "fingerprint", "model", "rng"),
    SNAPSHOT_FORMAT: ("step", "variant", "settings", "evals", "eval_protocol", "network", "optimizer", "rng"),
}
#: the keys every file of a format has, with or without "format" (a file written before it is
#: recognised by them; channels_last and fingerprint came later and take a default)
_REQUIRED = {
    GENERATOR_FORMAT: ("variant", "config", "data", "step", "roles"),
    CHECKPOINT_FORMAT: ("step", "variant", "model", "rng"),
    SNAPSHOT_FORMAT: _KEYS[SNAPSHOT_FORMAT],  # written with its format key from the first
}
_NAMES = {GENERATOR_FORMAT: "generator file", CHECKPOINT_FORMAT: "checkpoint", SNAPSHOT_FORMAT: "pre-training snapshot"}

#: a data spec's bounds: a sample of more values than this (4 x 2048 x 2048) is no file ganlab wrote
MAX_SIDE, MAX_VALUES, MAX_CLASSES, MAX_VOCAB = 16384, 2**24, 100_000, 1_000_000
#: the most weights a generator file may make ganlab build (every network of the variant, not only the
#: generator's): the paper settings' largest variant, ProGAN at 64 px, holds 0.17 GiB
MAX_MODEL_BYTES = 4 * 2**30

_EOCD = b"PK\x05\x06"  # the zip's end record: 22 bytes, then the archive's comment
_SEAL = b"ganlab-sha256:"  # the comment :func:`_save` writes: the SHA-256 of every byte before it
_SEAL_SIZE = len(_SEAL) + 64


class UnreadableCheckpoint(GanlabError):
    """A checkpoint file that is damaged, not a checkpoint, or holds what no checkpoint holds."""


class UnreadableGenerator(GanlabError):
    """A generator file that is damaged, not a generator file, or whose config and weights disagree."""


class UnreadableSnapshot(GanlabError):
    """A pre-training snapshot that is damaged, not a snapshot, or holds what no snapshot holds."""


def _save(state: dict[str, Any], path: Path) -> Path:
    # serialised in memory first, so the file is replaced in one write (torch.save streams)
    buf = io.BytesIO()
    torch.save(state, buf)
    with atomic_write(path) as fh:
        fh.write(_seal(buf.getvalue()))
    return path


def _seal(data: bytes) -> bytes:
    """torch.save's bytes with their SHA-256 as the zip's comment (torch.save writes none): the zip
    stays what torch.load reads, and a change to any byte is found, where the members' CRCs miss the
    headers, the alignment padding and the central directory."""
    if data[-22:-18] != _EOCD or data[-2:] != b"\0\0":
        raise RuntimeError("torch.save wrote a zip that does not end with a comment-less end record")
    head = data[:-2] + _SEAL_SIZE.to_bytes(2, "little")
    return head + _SEAL + hashlib.sha256(head).hexdigest().encode()


def check_integrity(path: Path, what: str, error: type[GanlabError]) -> None:
    """Refuse (``error``, naming ``path``) a file whose bytes are not the ones written. A sealed file (see
    :func:`_seal`) is checked by its SHA-256, which covers every byte; when that differs, or the file has
    no seal (written before ganlab sealed its files, or by torch.save elsewhere), every zip member is
    read and its CRC-32 checked, which names the member a change hit. ``what`` names the kind of file."""
    def damaged(reason: str) -> GanlabError:
        return error(f"{path}: damaged file ({reason}); its bytes changed after it was written "
                     "(a disk, copy or transfer error)")

    size = path.stat().st_size
    with open(path, "rb") as fh:
        start = fh.read(4)
        fh.seek(max(0, size - 22 - _SEAL_SIZE))
        tail = fh.read()
    sealed = (len(tail) == 22 + _SEAL_SIZE and tail[:4] == _EOCD and tail[-_SEAL_SIZE:].startswith(_SEAL)
              and tail[20:22] == _SEAL_SIZE.to_bytes(2, "little"))
    plain = tail[-22:-18] == _EOCD and tail[-2:] == b"\0\0"
    if not (sealed or plain):
        if start != b"PK\x03\x04":
            raise error(f"{path}: not a readable {what} (not the zip archive torch.save writes)")
        raise damaged("its zip end record is damaged or followed by other bytes")
    if sealed and _sha256(path, size - _SEAL_SIZE) == tail[-64:].decode("ascii", "replace"):
        return  # every byte as written: one read, where the CRCs would need a second
    member = "the central directory"  # until the archive is open
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                member = info.filename
                with archive.open(info) as fh:  # reading to the end checks the member's CRC-32
                    while fh.read(CHUNK):
                        pass
    except zipfile.BadZipFile as exc:
        if str(exc).startswith("Bad CRC-32"):
            raise damaged(f"zip CRC check failed for member {member}") from None
        raise damaged(f"zip: {member}: {_first_line(exc)}") from None
    except Exception as exc:  # noqa: BLE001 - a flipped flag or size surfaces as any of several errors
        raise damaged(f"zip: {member}: {type(exc).__name__}: {_first_line(exc)}") from None
    if sealed:  # the members are intact: a header, the padding or the central directory changed
        raise damaged("its SHA-256 differs from the one written in it")


def _sha256(path: Path, size: int) -> str:
    """The SHA-256 of the first ``size`` bytes of ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while size > 0 and (chunk := fh.read(min(CHUNK, size))):
            digest.update(chunk)
            size -= len(chunk)
    return digest.hexdigest()


def _read(path: Path, fmt: str, error: type[GanlabError], hint: str,
          map_location: torch.device | str) -> dict[str, Any]:
    """The dict of the ``fmt`` file at ``path``, its bytes checked and its keys the format's (a file of
    the other format is named as such, followed by ``hint``); the values are checked by the caller."""
    what = _NAMES[fmt]
    check_integrity(path, what, error)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is reported the same way
        raise error(f"{path}: not a readable {what} ({_first_line(exc)})") from None
    if not isinstance(state, dict):
        raise error(f"{path}: not a readable {what} (it holds a {type(state).__name__}, not a dict)")
    found = state.get("format")
    kind = found if isinstance(found, str) else None
    if "format" not in state:  # written before the format key: recognised by its keys
        kind = next((f for f, keys in _REQUIRED.items() if all(k in state for k in keys)), None)
    if kind in _NAMES and kind != fmt:
        raise error(f"{path} is a {_NAMES[kind]}, not a {what}{hint}")
    if "format" in state and found != fmt:
        family = fmt.split("/")[0] + "/"
        newer = isinstance(found, str) and found.startswith(family)
        raise error(f"{path}: format = {found!r} is {'another version' if newer else 'not a ganlab format'}; "
                    f"this ganlab reads {fmt}")
    missing = [k for k in _REQUIRED[fmt] if k not in state]
    if missing:
        has = ", ".join(map(str, list(state)[:8])) or "nothing"
        raise error(f"{path}: not a readable {what} (it has no {', '.join(missing)}; it has {has})")
    unknown = [str(k) for k in state if k != "format" and k not in _KEYS[fmt]]
    if unknown:
        raise error(f"{path}: not a readable {what} (unknown key {unknown[0]!r}; a {what} has "
                    f"{', '.join(_KEYS[fmt])})")
    return state


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _step(value: Any, path: Path, error: type[GanlabError]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise error(f"{path}: step = {show(value)} must be a whole number >= 0")
    return value


def _variant_class(value: Any, path: Path, error: type[GanlabError]) -> type[Variant]:
    names = registry.names()
    if not isinstance(value, str) or value not in names:
        raise error(f"{path}: variant = {show(value)} is not a registered variant; registered: {', '.join(names)}")
    return registry.get(value)


def _tensors(value: Any, key: str, path: Path, error: type[GanlabError]) -> dict[str, torch.Tensor]:
    """``value`` if it is a state dict (names -> tensors)."""
    if not isinstance(value, dict):
        raise error(f"{path}: {key} = {type(value).__name__} must be a mapping of names to tensors")
    for name, tensor in value.items():
        if not isinstance(name, str) or not isinstance(tensor, torch.Tensor):
            raise error(f"{path}: {key}.{name} = {type(tensor).__name__} must be a tensor")
    return value


# --------------------------------------------------------------------------- checkpoint.pt


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
        "format": CHECKPOINT_FORMAT,
        "step": checkpoint.step,
        "variant": checkpoint.variant,
        "fingerprint": checkpoint.fingerprint,
        "model": checkpoint.model,
        "rng": checkpoint.rng,
    }
    return _save(state, Path(path))


def read_checkpoint(path: str | Path, map_location: torch.device | str = "cpu") -> Checkpoint:
    """The checkpoint at ``path``, its tensors on ``map_location``, after its bytes, format, keys and
    their types are checked: UnreadableCheckpoint names the file and what is wrong; a missing file
    raises FileNotFoundError."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(path)
    error = UnreadableCheckpoint
    state = _read(path, CHECKPOINT_FORMAT, error, "", map_location)
    step = _step(state["step"], path, error)
    variant = _variant_class(state["variant"], path, error).name
    fingerprint = state.get("fingerprint")
    if fingerprint is not None and not isinstance(fingerprint, str):
        raise error(f"{path}: fingerprint = {show(fingerprint)} must be a string")
    model = state["model"]
    if not isinstance(model, dict) or not {"nets", "optimizers"} <= set(model):
        keys = ", ".join(map(str, model)) if isinstance(model, dict) else type(model).__name__
        raise error(f"{path}: model must be a mapping with nets and optimizers (a variant's state), got {keys}")
    _tensors(model["nets"], "model.nets", path, error)
    if not isinstance(model["optimizers"], dict):
        raise error(f"{path}: model.optimizers = {type(model['optimizers']).__name__} must be a mapping")
    return Checkpoint(step, variant, fingerprint, model, _rng(state["rng"], path, error))


def _rng(rng: Any, path: Path, error: type[GanlabError]) -> list[dict[str, Any]]:
    """``rng`` if it is a list of each process's RNG states: {"cpu": a uint8 tensor, "cuda": a list of them}."""
    if not isinstance(rng, list) or not rng:
        raise error(f"{path}: rng = {type(rng).__name__} must be a non-empty list (one RNG state per process)")
    for i, entry in enumerate(rng):
        if not (isinstance(entry, dict) and isinstance(entry.get("cpu"), torch.Tensor)
                and entry["cpu"].dtype == torch.uint8 and isinstance(entry.get("cuda"), list)
                and all(isinstance(s, torch.Tensor) for s in entry["cuda"])):
            raise error(f"{path}: rng[{i}] must be a mapping of cpu (a uint8 tensor) and cuda (a list of them)")
    return rng


# --------------------------------------------------------------------------- snapshots/step_N.pt


@dataclass(frozen=True)
class Snapshot:
    """The content of snapshots/step_N.pt: a run's MLE pre-training at ``step`` (ganlab.train.pretraining)."""

    step: int
    variant: str  # the registered variant of the run that wrote it
    #: what shaped its weights, as the trainer's fingerprint has them less the code: {"config": the variant's,
    #: "data": [the data spec, the data's id], "train": {"seed", "batch_size", "amp", "world"}}
    settings: dict[str, Any]
    evals: list[dict[str, Any]]  # the monitor's scores up to ``step``: {"step": s, name: value}
    eval_protocol: dict[str, Any]  # how they were measured
    network: dict[str, torch.Tensor]  # the weights of the network the pre-training trains (Variant.pretraining)
    optimizer: dict[str, Any]  # that network's optimizer's state_dict
    rng: list[dict[str, Any]]  # per process: {"cpu": its CPU RNG state, "cuda": its CUDA states or []}


_TRAIN_SETTINGS = {"seed": int, "batch_size": int, "amp": str, "world": int}


def write_snapshot(path: str | Path, snapshot: Snapshot) -> Path:
    """Write ``snapshot`` to ``path`` atomically; the same snapshot gives the same bytes."""
    state = {"format": SNAPSHOT_FORMAT, **{key: getattr(snapshot, key) for key in _KEYS[SNAPSHOT_FORMAT]}}
    return _save(state, Path(path))


def read_snapshot(path: str | Path, map_location: torch.device | str = "cpu") -> Snapshot:
    """The snapshot at ``path`` after its bytes, format, keys and every value's type are checked (its settings'
    config through its variant's schema, its data spec's bounds, its scores as finite numbers); the tensors'
    names and shapes are checked against the network they go into by ganlab.train.pretraining.
    UnreadableSnapshot names the file and what is wrong; a missing file raises FileNotFoundError."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(path)
    error = UnreadableSnapshot
    state = _read(path, SNAPSHOT_FORMAT, error, "", map_location)
    step = _step(state["step"], path, error)
    cls = _variant_class(state["variant"], path, error)
    settings = state["settings"]
    if not isinstance(settings, dict) or set(settings) != {"config", "data", "train"}:
        raise error(f"{path}: settings must be a mapping of config, data and train")
    try:
        from_dict(cls.Config, settings["config"], "settings.config")
    except GanlabError as exc:
        raise error(f"{path}: {exc}") from None
    data = settings["data"]
    if not (isinstance(data, list) and len(data) == 2 and isinstance(data[1], str)):
        raise error(f"{path}: settings.data must be [the data spec, the data's id]")
    _data_spec(data[0], path, error)
    train = settings["train"]
    if not (isinstance(train, dict) and set(train) == set(_TRAIN_SETTINGS)
            and all(type(train[k]) is t for k, t in _TRAIN_SETTINGS.items())):
        raise error(f"{path}: settings.train must map {', '.join(_TRAIN_SETTINGS)} to their values")
    evals = state["evals"]
    if not isinstance(evals, list) or not all(
            isinstance(e, dict) and _whole(e.get("step"), 0, step) and all(
                isinstance(k, str) and (k == "step" or _number(v)) for k, v in e.items()) for e in evals):
        raise error(f"{path}: evals must be a list of scores, each a mapping of step (0 to {step}) and numbers")
    _plain(state["eval_protocol"], "eval_protocol", path, error)
    if not isinstance(state["eval_protocol"], dict):
        raise error(f"{path}: eval_protocol must be a mapping")
    network = _tensors(state["network"], "network", path, error)
    optimizer = state["optimizer"]
    if not (isinstance(optimizer, dict) and set(optimizer) == {"state", "param_groups"}
            and isinstance(optimizer["state"], dict) and isinstance(optimizer["param_groups"], list)):
        raise error(f"{path}: optimizer must be an optimizer's state (state and param_groups)")
    for index, entry in optimizer["state"].items():
        if not _whole(index, 0, 2**31):
            raise error(f"{path}: optimizer.state has the key {show(index)}; its keys are parameter numbers")
        _tensors(entry, f"optimizer.state.{index}", path, error)
    for i, group in enumerate(optimizer["param_groups"]):
        _plain(group, f"optimizer.param_groups[{i}]", path, error)
        if not isinstance(group, dict):
            raise error(f"{path}: optimizer.param_groups[{i}] must be a mapping")
    return Snapshot(step, cls.name, settings, evals, state["eval_protocol"], network, optimizer,
                    _rng(state["rng"], path, error))


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _plain(value: Any, key: str, path: Path, error: type[GanlabError], depth: int = 0) -> None:
    """Refuse anything in ``value`` but what JSON holds (mappings with string keys, lists and tuples, strings,
    numbers, booleans, None), nested at most 4 deep."""
    if value is None or isinstance(value, (bool, str)) or _number(value):
        return
    if depth < 4 and isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _plain(item, f"{key}[{i}]", path, error, depth + 1)
        return
    if depth < 4 and isinstance(value, dict) and all(isinstance(k, str) for k in value):
        for k, item in value.items():
            _plain(item, f"{key}.{k}", path, error, depth + 1)
        return
    raise error(f"{path}: {key} = {show(value)} is not a plain value (text, a number, a list or a mapping)")


# --------------------------------------------------------------------------- generator.pt


def export_generator(variant: Variant, path: str | Path, step: int, channels_last: bool) -> Path:
    """Write what sampling from ``variant`` needs and nothing else (no discriminator, no
    optimizer) to ``path``, atomically. ``channels_last``: the memory format it trained in, so
    that :func:`load_generator` reproduces its samples bit for bit."""
    state = {  # the format: these keys in this order
        "format": GENERATOR_FORMAT,
        "variant": variant.name,
        "config": dataclasses.asdict(variant.config),
        "data": dataclasses.asdict(variant.data),
        "step": step,
        "channels_last": channels_last,
        "roles": {role: variant.nets[role].state_dict() for role in variant.generator_roles},
    }
    return _save(state, Path(path))


def load_generator(path: str | Path, device: torch.device | str = "cpu") -> Variant:
    """The variant of a generator.pt, rebuilt with its config and its generator weights loaded,
    after the file is checked (bytes, format, keys, config, data spec, weights against the config;
    see the module's docstring): UnreadableGenerator names the file and what is wrong.

    Only the generator roles hold trained weights, and the variant has no optimizers: it is for
    sampling. Call ``.sample(.noise(n))`` under no_grad after ``.nets.eval()``.
    """
    path = Path(path)
    if not path.is_file():
        raise UnreadableGenerator(f"{path}: no such generator file" + (" (it is a folder)" if path.is_dir() else ""))
    error = UnreadableGenerator
    hint = f"; sample from {RunDir(path.parent).generator}"
    state = _read(path, GENERATOR_FORMAT, error, hint, device)
    cls = _variant_class(state["variant"], path, error)
    try:
        config = from_dict(cls.Config, state["config"], "config")
    except GanlabError as exc:
        raise error(f"{path}: {exc}") from None
    spec = _data_spec(state["data"], path)
    _step(state["step"], path, error)
    channels_last = state.get("channels_last", False)
    if not isinstance(channels_last, bool):
        raise error(f"{path}: channels_last = {show(channels_last)} must be true or false")
    roles = state["roles"]
    if not isinstance(roles, dict) or set(roles) != set(cls.generator_roles):
        found = ", ".join(map(str, roles)) if isinstance(roles, dict) else type(roles).__name__
        raise error(f"{path}: roles must hold {cls.name}'s generator roles {', '.join(cls.generator_roles)}; "
                    f"it holds {found or 'none'}")
    for role, weights in roles.items():
        _tensors(weights, f"roles.{role}", path, error)
    _check_weights(cls, config, spec, roles, path)
    with without_optimizers():  # a generator file holds no optimizer state: it is loaded to sample from
        variant = build_variant(cls.name, config, spec, device)
    if channels_last:
        variant.nets.to(memory_format=torch.channels_last)
    for role, weights in roles.items():
        variant.nets[role].load_state_dict(weights)
    return variant


def find_generator(model: str, data_root: str | Path = "data") -> Path:
    """The generator.pt that ``model`` names: the file itself, a run's folder holding one, or a run's name
    (DATA_ROOT/models/<run>/generator.pt); UnreadableGenerator names every place looked at when none is."""
    path = Path(model)
    if path.is_file():
        return path
    if path.is_dir():
        if not RunDir(path).generator.is_file():
            raise UnreadableGenerator(f"{model}: a folder without a generator file (looked for {RunDir(path).generator})")
        return RunDir(path).generator
    looked = f"no file or folder {path}"
    if len(path.parts) == 1 and path.suffix != ".pt":  # a bare name: a run's
        if RunDir.of(model, data_root).generator.is_file():
            return RunDir.of(model, data_root).generator
        looked += f", no run's {RunDir.of(model, data_root).generator}"
    raise UnreadableGenerator(f"{model}: no generator there ({looked})")


def _data_spec(raw: Any, path: Path, error: type[GanlabError] = UnreadableGenerator) -> DataSpec:
    """The data spec of a generator file (or a snapshot's settings), each field's type and bounds checked."""
    if not isinstance(raw, dict):
        raise error(f"{path}: data = {type(raw).__name__} must be a mapping (shape, n_classes, ...)")
    fields = [f.name for f in dataclasses.fields(DataSpec)]
    unknown = [str(k) for k in raw if k not in fields]
    if unknown or "shape" not in raw or "n_classes" not in raw:
        raise error(f"{path}: data must have shape and n_classes, and only {', '.join(fields)}; it has "
                    f"{', '.join(map(str, raw))}")
    shape = raw["shape"]
    if not (isinstance(shape, (list, tuple)) and 1 <= len(shape) <= 4 and all(_whole(s, 1, MAX_SIDE) for s in shape)
            and math.prod(shape) <= MAX_VALUES):
        raise error(f"{path}: data.shape = {shape!r} must be 1 to 4 whole numbers of 1 to {MAX_SIDE}, "
                    f"{MAX_VALUES} values in all")
    vocab, words = raw.get("vocab", 0), raw.get("words", ())
    for key, lo, hi in (("n_classes", 0, MAX_CLASSES), ("vocab", 0, MAX_VOCAB)):
        if not _whole(raw.get(key, 0), lo, hi):
            raise error(f"{path}: data.{key} = {show(raw[key])} must be a whole number, {lo} <= value <= {hi}")
    end = raw.get("end_token", -1)
    if not _whole(end, -1, vocab - 1):
        raise error(f"{path}: data.end_token = {show(end)} must be -1 (none) or a token, below vocab = {vocab}")
    if not (isinstance(words, (list, tuple)) and all(isinstance(w, str) for w in words)
            and len(words) in (0, vocab)):
        raise error(f"{path}: data.words must be a list of strings, one per token (vocab = {vocab}), or empty")
    return data_spec_from_dict(raw)


def _whole(value: Any, lo: int, hi: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi


class _NoDrawsOnMeta(TorchFunctionMode):
    """Random initialisers (``normal_``, ``uniform_`` ...) of meta tensors return the tensor untouched. A meta
    tensor has no values to draw, so nothing changes but time: torch runs those draws through a Python path
    that imports torch._dynamo, 1.2 s of every stage that checks a generator (metrics, report, claims)."""

    DRAWS = frozenset([
        *(getattr(torch.Tensor, name) for name in (
            "normal_", "uniform_", "random_", "exponential_", "bernoulli_", "cauchy_", "geometric_", "log_normal_")),
        *(getattr(torch.nn.init, name) for name in (  # these reach a mode before the tensor methods they call
            "normal_", "uniform_", "trunc_normal_", "xavier_normal_", "xavier_uniform_", "kaiming_normal_",
            "kaiming_uniform_", "orthogonal_", "sparse_")),
    ])

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204 - torch's protocol
        kwargs = kwargs or {}
        if func in self.DRAWS:
            target = args[0] if args else kwargs.get("tensor")  # torch.nn.init passes it by keyword
            if isinstance(target, torch.Tensor) and target.is_meta:
                return target
        return func(*args, **kwargs)


def _check_weights(cls: type[Variant], config: Any, spec: DataSpec, roles: dict[str, dict[str, torch.Tensor]],
                   path: Path) -> None:
    """Refuse weights that do not fit the variant ``config`` and ``spec`` build, and a variant too large to
    build, before anything is allocated: the variant is built on the meta device (shapes, no memory; no
    draw from the RNG) and each generator role's tensor names and shapes compared with the file's."""
    error = UnreadableGenerator
    try:
        with torch.device("meta"), _NoDrawsOnMeta(), without_optimizers():
            meta = cls(config, spec, torch.device("meta"))
    except Exception as exc:  # noqa: BLE001 - a variant refuses a config or data spec in its own words
        raise error(f"{path}: {cls.name} cannot be built from its config and data ({_first_line(exc)})") from None
    nbytes = sum(t.numel() * t.element_size() for t in [*meta.nets.parameters(), *meta.nets.buffers()])
    if nbytes > MAX_MODEL_BYTES:
        raise error(f"{path}: its config makes {cls.name} hold {nbytes / 2**30:.1f} GiB of weights; at most "
                    f"{MAX_MODEL_BYTES / 2**30:.0f} GiB is loaded (the paper settings' largest variant holds 0.17 GiB)")
    for role, weights in roles.items():
        expected = meta.nets[role].state_dict()
        for key in [*expected, *weights]:
            if key not in weights or key not in expected:
                where, other = ("the file lacks it", "the config builds it") if key not in weights else \
                    ("the file has it", "the config builds no such tensor")
                raise error(f"{path}: roles.{role}.{key}: {where}, {other} ({cls.name}, config and data as written)")
            want, got = expected[key], weights[key]
            if isinstance(want, torch.Tensor) and tuple(want.shape) != tuple(got.shape):
                raise error(f"{path}: roles.{role}.{key} has shape {tuple(got.shape)} in the file, the config "
                            f"builds {tuple(want.shape)}")
