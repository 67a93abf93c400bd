"""params.yaml, mirrored by frozen dataclasses and validated before any work starts.

Each section of ``params.yaml`` is a frozen dataclass below. :func:`load_params` builds them
from the YAML file and stops with a :class:`~ganlab.errors.ParamsError` that names the key,
the value and what is allowed when it meets an unknown key, a wrong type or a value out of
range. Field metadata carries the checks: ``min``/``max`` bounds, ``choices`` for strings, and
``help``, the one-line reason that params.yaml also carries as a comment.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml

from ganlab.errors import ParamsError

DEFAULT_PARAMS = Path("params.yaml")


def _opt(default: Any, help: str, **checks: Any) -> Any:
    """A dataclass field with a default, a one-line reason and optional checks."""
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help, **checks})
    return field(default=default, metadata={"help": help, **checks})


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class DatasetParams:
    """How to obtain one dataset (``data.<name>`` in params.yaml)."""

    variant: str = _opt(
        "auto",
        "which copy: auto = an official file in the mirror, else a mirror variant, else the network",
    )


@dataclass(frozen=True)
class FacesParams:
    """Face detection and cropping (``faces:``); see ganlab.data.faces."""

    cascade: str = _opt("haarcascade_frontalface_default.xml", "OpenCV's bundled cascade file, or a path")
    confirm_cascade: str = _opt("", "a second cascade that must fire inside each box; '' = none")
    scale_factor: float = _opt(1.1, "image pyramid step of the detector", min=1.01, max=2.0)
    min_neighbors: int = _opt(5, "overlapping detections a face needs", min=0, max=100)
    min_face: int = _opt(40, "smallest face side in pixels", min=8, max=4096)
    margin: float = _opt(0.2, "context added around the box on each side, as a fraction of its side", min=0.0, max=2.0)
    size: int = _opt(64, "side of the saved square crops", min=8, max=1024)
    test_fraction: float = _opt(0.1, "share of people held out as the test split", min=0.0, max=0.9)


HASH_METHODS = ("phash", "dhash", "whash", "ahash")
CONFIRM_METHODS = ("ncc", "dhash", "phash", "none")


@dataclass(frozen=True)
class DedupParams:
    """Near-duplicate removal (``dedup:``); see ganlab.data.dedup."""

    hash: str = _opt("phash", "perceptual hash", choices=HASH_METHODS)
    hash_size: int = _opt(8, "hash side: hash_size**2 bits", min=4, max=32)
    threshold: int = _opt(16, "Hamming distance for a candidate pair", min=0, max=1024)
    confirm: str = _opt("ncc", "independent check of each candidate pair", choices=CONFIRM_METHODS)
    min_correlation: float = _opt(0.94, "ncc: least correlation of a confirmed pair", min=-1.0, max=1.0)
    confirm_threshold: int = _opt(12, "dhash/phash confirm: Hamming distance of a confirmed pair", min=0, max=1024)
    drop_leaked: bool = _opt(True, "drop training images that have a near duplicate in the eval set")
    gallery_clusters: int = _opt(12, "clusters shown in gallery.png", min=0, max=200)

    def __post_init__(self) -> None:
        if self.threshold > self.hash_size**2:
            raise ParamsError(f"threshold = {self.threshold} exceeds the {self.hash_size**2} bits of a hash_size {self.hash_size} hash")


@dataclass(frozen=True)
class Params:
    """The whole of params.yaml."""

    seed: int = _opt(0, "global seed; every stage derives its own seeds from it", min=0, max=2**31 - 1)
    data: dict[str, DatasetParams] = _opt({}, "datasets the pipeline fetches, by name")
    faces: FacesParams = _opt(FacesParams(), "face cropping")
    dedup: DedupParams = _opt(DedupParams(), "near-duplicate removal")

    def __post_init__(self) -> None:
        # Imported here: the source registry imports nothing from params, but keeping the
        # dependency one-way at import time avoids a cycle as more sections arrive.
        from ganlab.data.sources import DATASETS

        for name, ds in self.data.items():
            if name not in DATASETS:
                raise ParamsError(_unknown_key_message(f"data.{name}", name, sorted(DATASETS)))
            allowed = ["auto", *DATASETS[name].variant_names]
            if ds.variant not in allowed:
                raise ParamsError(
                    f"data.{name}.variant = {ds.variant!r} is not allowed; "
                    f"choose one of: {', '.join(allowed)}"
                )


# --------------------------------------------------------------------------- loading


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML's SafeLoader with YAML 1.2 floats, so ``lr: 1e-4`` is a float, not a string.

    DVC (ruamel, YAML 1.2) writes ``-S lr=1e-4`` without a dot; plain PyYAML (YAML 1.1)
    would read that back as the string '1e-4'.
    """


_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def read_yaml(path: str | Path) -> Any:
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ParamsError(f"{path}: no such params file") from None
    try:
        return yaml.load(text, Loader=_Yaml12Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from None


def load_params(path: str | Path = DEFAULT_PARAMS) -> Params:
    """Read and validate params.yaml; raise ParamsError naming the file and key on any problem."""
    raw = read_yaml(path)
    if raw is None:
        raw = {}
    try:
        return from_dict(Params, raw, "")
    except ParamsError as exc:
        raise ParamsError(f"{path}: {exc}") from None


def from_dict(cls: type, raw: Any, where: str) -> Any:
    """Build dataclass ``cls`` from a mapping, checking keys, types and ranges recursively."""
    if not isinstance(raw, dict):
        raise ParamsError(f"{where or 'the top level'} must be a mapping, got {_show(raw)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in raw:
        if key not in fields:
            raise ParamsError(_unknown_key_message(_join(where, key), str(key), sorted(fields)))
    values = {}
    for name, f in fields.items():
        key = _join(where, name)
        if name not in raw:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ParamsError(f"{key} is missing ({f.metadata.get('help', 'required')})")
            continue
        values[name] = _check_value(raw[name], hints[name], key, f.metadata)
    try:
        return cls(**values)
    except ParamsError as exc:
        if where and not str(exc).startswith(where):
            raise ParamsError(f"{where}: {exc}") from None
        raise


def _check_value(value: Any, hint: Any, key: str, meta: typing.Mapping[str, Any]) -> Any:
    origin, args = get_origin(hint), get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _check_value(value, inner[0], key, meta)
    if origin is Literal:
        if value not in args:
            raise ParamsError(f"{key} = {_show(value)} is not allowed; choose one of: {', '.join(map(str, args))}")
        return value
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, key)
    if origin is dict:
        if not isinstance(value, dict):
            raise ParamsError(f"{key} must be a mapping, got {_show(value)}")
        return {str(k): _check_value(v, args[1], _join(key, str(k)), {}) for k, v in value.items()}
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ParamsError(f"{key} must be a list, got {_show(value)}")
        item = args[0]
        out = [_check_value(v, item, f"{key}[{i}]", {}) for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if hint is bool:
        if not isinstance(value, bool):
            raise ParamsError(f"{key} = {_show(value)} must be true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamsError(f"{key} = {_show(value)} must be a whole number")
    elif hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamsError(f"{key} = {_show(value)} must be a number")
        value = float(value)
    elif hint is str:
        if not isinstance(value, str):
            raise ParamsError(f"{key} = {_show(value)} must be a string")
        choices = meta.get("choices")
        if choices is not None and value not in choices:
            raise ParamsError(f"{key} = {value!r} is not allowed; choose one of: {', '.join(choices)}")
    lo, hi = meta.get("min"), meta.get("max")
    if lo is not None and value < lo or hi is not None and value > hi:
        raise ParamsError(f"{key} = {value!r} is out of range; allowed: {_range(lo, hi)}")
    return value


def _unknown_key_message(key: str, name: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(name, allowed, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key {key!r}{hint}; allowed here: {', '.join(allowed) or 'none'}"


def _join(where: str, key: object) -> str:
    return f"{where}.{key}" if where else str(key)


def _show(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def _range(lo: Any, hi: Any) -> str:
    if lo is not None and hi is not None:
        return f"{lo} <= value <= {hi}"
    return f">= {lo}" if lo is not None else f"<= {hi}"
