"""The schema engine of params.yaml: one field helper, one reader, one checker, one wording of errors.

Every section of params.yaml (and every variant's hyperparameters) is a frozen dataclass whose
fields are made with :func:`hp`: a default, the one-line reason params.yaml also carries as a
comment, and optional checks (``min``/``max`` bounds, ``choices`` for strings). :func:`from_dict`
builds such a dataclass from a YAML mapping and stops with a :class:`~ganlab.errors.ParamsError`
that names the key, the value and what is allowed when it meets an unknown key, a wrong type or a
value out of range. A dataclass may add checks across its fields with a static ``__check__(values,
where)``, called before it is built.

This module imports nothing of ganlab but the exception leaf, so the sections can live beside the
code that reads them (ganlab.data.config, ganlab.train.config, ganlab.eval.config,
ganlab.report.config) and ganlab.params only assembles them, without an import cycle and without
importing torch for a file that trains nothing.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml

from ganlab.errors import ParamsError


def hp(default: Any, help: str, **checks: Any) -> Any:
    """A dataclass field: its default, a one-line reason and optional checks (``min``, ``max``, ``choices``)
    that :func:`from_dict` validates a params.yaml value against.

    A mutable default (a dict or a list) is copied for each instance, through a default factory."""
    metadata = {"help": help, **checks}
    if isinstance(default, (dict, list)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


# --------------------------------------------------------------------------- reading YAML


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
    """The YAML document of ``path`` (YAML 1.2 floats); a ParamsError naming the file if it is missing or invalid."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ParamsError(f"{path}: no such params file") from None
    try:
        return yaml.load(text, Loader=_Yaml12Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from None


# --------------------------------------------------------------------------- building dataclasses


def from_dict(cls: type, raw: Any, where: str) -> Any:
    """Build dataclass ``cls`` from a mapping, checking keys, types and ranges recursively.

    ``where`` is the dotted key of ``raw`` in the params file ('' at the top level); every error names
    the full key of the value at fault."""
    if not isinstance(raw, dict):
        raise ParamsError(f"{where or 'the top level'} must be a mapping, got {show(raw)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in raw:
        if key not in fields:
            raise ParamsError(unknown_key_message(join(where, key), str(key), sorted(fields)))
    values = {}
    for name, f in fields.items():
        key = join(where, name)
        if name not in raw:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ParamsError(f"{key} is missing ({f.metadata.get('help', 'required')})")
            continue
        values[name] = _check_value(raw[name], hints[name], key, f.metadata)
    check = getattr(cls, "__check__", None)
    if check is not None:  # checks across fields that need more than the field's own metadata
        check(values, where)
    try:
        return cls(**values)
    except ParamsError as exc:
        if where and not str(exc).startswith(where):
            raise ParamsError(f"{where}: {exc}") from None
        raise


def _check_value(value: Any, hint: Any, key: str, meta: typing.Mapping[str, Any]) -> Any:
    """``value`` checked against the type ``hint`` and the field's checks ``meta``, converted where YAML
    and the dataclass differ (an int where a float is declared, a list where a tuple is)."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _check_value(value, inner[0], key, meta)
    if origin is Literal:
        if value not in args:
            raise ParamsError(f"{key} = {show(value)} is not allowed; choose one of: {', '.join(map(str, args))}")
        return value
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, key)
    if origin is dict:
        if not isinstance(value, dict):
            raise ParamsError(f"{key} must be a mapping, got {show(value)}")
        return {str(k): _check_value(v, args[1], join(key, str(k)), {}) for k, v in value.items()}
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ParamsError(f"{key} must be a list, got {show(value)}")
        item = args[0]
        out = [_check_value(v, item, f"{key}[{i}]", {}) for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if hint is bool:
        if not isinstance(value, bool):
            raise ParamsError(f"{key} = {show(value)} must be true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamsError(f"{key} = {show(value)} must be a whole number")
    elif hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamsError(f"{key} = {show(value)} must be a number")
        value = float(value)
    elif hint is str:
        if not isinstance(value, str):
            raise ParamsError(f"{key} = {show(value)} must be a string")
        choices = meta.get("choices")
        if choices is not None and value not in choices:
            raise ParamsError(f"{key} = {value!r} is not allowed; choose one of: {', '.join(choices)}")
    lo, hi = meta.get("min"), meta.get("max")
    if lo is not None and value < lo or hi is not None and value > hi:
        raise ParamsError(f"{key} = {value!r} is out of range; allowed: {_range(lo, hi)}")
    return value


# --------------------------------------------------------------------------- the wording of errors


def did_you_mean(name: str, allowed: list[str]) -> str:
    """' (did you mean 'x'?)' for the closest of ``allowed``, or ''."""
    close = difflib.get_close_matches(name, allowed, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_key_message(key: str, name: str, allowed: list[str]) -> str:
    """The error of a name that is not among ``allowed``: the key, the closest allowed name, all of them."""
    return f"unknown key {key!r}{did_you_mean(name, allowed)}; allowed here: {', '.join(allowed) or 'none'}"


def join(where: str, key: object) -> str:
    """The dotted key of ``key`` under ``where`` ('' = the top level)."""
    return f"{where}.{key}" if where else str(key)


def show(value: Any) -> str:
    """A value and its YAML-read type, as errors show a value of the wrong type."""
    return f"{value!r} ({type(value).__name__})"


def _range(lo: Any, hi: Any) -> str:
    if lo is not None and hi is not None:
        return f"{lo} <= value <= {hi}"
    return f">= {lo}" if lo is not None else f"<= {hi}"
