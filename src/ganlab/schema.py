"""The schema engine of params.yaml: one field helper, one reader, one checker, one wording of errors.

Every section of params.yaml (and every variant's hyperparameters) is a frozen dataclass whose
fields are made with :func:`hp`: a default, the one-line reason params.yaml also carries as a
comment, and optional checks (``min``/``max`` bounds, ``choices`` for strings). :func:`from_dict`
builds such a dataclass from a YAML mapping and stops with a :class:`~ganlab.errors.ParamsError`
that names the key, the value and what is allowed when it meets an unknown key, a wrong type or a
value out of range. A dataclass may add checks across its fields with a static ``__check__(values,
where)``, called before it is built.

A params file is read no more leniently than DVC reads it (a duplicate key is refused, as DVC refuses it)
and, against a hostile file, without anchors and aliases; :func:`read_yaml` names a file that is missing, a
folder, unreadable or not UTF-8, with the line and column of what it refuses. Every float is finite,
a key that becomes a folder name is a safe one (:func:`check_name`), and a message shows at most
:data:`SHOWN` characters of a value (:func:`shown`), however large or deeply nested it is.

This module imports nothing of ganlab but the exception leaf, so the sections can live beside the
code that reads them (ganlab.data.config, ganlab.train.config, ganlab.eval.config,
ganlab.report.config) and ganlab.params only assembles them, without an import cycle and without
importing torch for a file that trains nothing.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import reprlib
import types
import typing
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml

from ganlab.errors import ParamsError


def hp(default: Any, help: str, **checks: Any) -> Any:
    """A dataclass field: its default, a one-line reason and optional checks that :func:`from_dict` validates a
    params.yaml value against: ``min`` and ``max`` for numbers; ``choices`` for strings, or ``pattern`` (a
    compiled regex the whole string must match) with ``forms`` (the allowed forms, in words); ``names`` for a
    mapping whose keys become file or folder names (what such a name is, in words; see :func:`check_name`).

    A mutable default (a dict or a list) is copied for each instance, through a default factory."""
    metadata = {"help": help, **checks}
    if isinstance(default, (dict, list)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


# --------------------------------------------------------------------------- reading YAML


class _Refused(yaml.MarkedYAMLError):
    """Valid YAML that a params file must not hold (an alias, a duplicate key): refused where it stands."""


_NO_ALIASES = "params files take no anchors (&) or aliases (*)"


class _NoDuplicateKeys:
    """A constructor mixin that refuses a key repeated in one mapping, as DVC (ruamel) does."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):  # every mapping, at every depth, comes through here
            first: dict[Any, yaml.Mark] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    mark = first.setdefault(key, key_node.start_mark)
                except TypeError:  # an unhashable key: the base constructor names it
                    continue
                again = key_node.start_mark
                if mark is not again:
                    lines = (f"on line {mark.line + 1} and line {again.line + 1}" if mark.line != again.line else
                             f"on line {again.line + 1} (columns {mark.column + 1} and {again.column + 1})")
                    raise _Refused(problem=f"key {shown(key)} appears twice in one mapping, {lines}; DVC refuses a "
                                           "duplicate key: keep one", problem_mark=again)
        return super().construct_mapping(node, deep)


class _Yaml12Loader(_NoDuplicateKeys, yaml.SafeLoader):
    """PyYAML's SafeLoader with YAML 1.2 floats, so ``lr: 1e-4`` is a float, not a string; without anchors and
    aliases, and without duplicate keys.

    DVC (ruamel, YAML 1.2) writes ``-S lr=1e-4`` without a dot; plain PyYAML (YAML 1.1)
    would read that back as the string '1e-4'. An alias repeats a value without showing it: a few hundred
    bytes of nested aliases expand to billions of values (the "billion laughs"), which any walk of the value
    (an error message, a copy) tries to build, so they are refused before the document is composed. DVC
    (ruamel) refuses a duplicate key, and PyYAML would keep the last one silently: refused as DVC does.
    """

    _anchor: tuple[str, yaml.Mark] | None = None  # the document's first anchor, refused if no alias comes first

    def compose_document(self) -> yaml.Node:
        self._anchor = None
        node = super().compose_document()
        if self._anchor is not None:
            name, mark = self._anchor
            raise _Refused(problem=f"YAML anchor &{cut(name, KEY_SHOWN)} is not allowed: {_NO_ALIASES}; remove it",
                           problem_mark=mark)
        return node

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise _Refused(problem=f"YAML alias *{cut(event.anchor, KEY_SHOWN)} is not allowed: {_NO_ALIASES}; "
                                   "write the value out where it is used", problem_mark=event.start_mark)
        if getattr(event, "anchor", None) is not None and self._anchor is None:
            self._anchor = (event.anchor, event.start_mark)
        return super().compose_node(parent, index)


#: YAML 1.2's floats (``1e-4`` too), resolved as PyYAML resolves YAML 1.1's
_FLOAT_12 = (
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
_Yaml12Loader.add_implicit_resolver(*_FLOAT_12)


class _FastYaml12Loader(_NoDuplicateKeys, getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The same document as :class:`_Yaml12Loader`'s, parsed and composed by libyaml where PyYAML has it (a
    sixth of the time on params.yaml, which every stage reads). It is used only for a text whose events hold no
    anchor or alias, and any error it meets is raised again by :class:`_Yaml12Loader`, whose messages name
    the line and column."""


_FastYaml12Loader.add_implicit_resolver(*_FLOAT_12)


def _has_anchors(text: str) -> bool:
    """Whether ``text``'s YAML events hold an anchor or an alias (libyaml's parser where PyYAML has it)."""
    for event in yaml.parse(text, Loader=_FastYaml12Loader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            return True
    return False


def read_text(path: str | Path, what: str = "params file") -> str:
    """The UTF-8 text of ``path``; a ParamsError naming it if it is missing, a folder, unreadable or not UTF-8."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ParamsError(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise ParamsError(f"{path}: is a folder, not a {what}") from None
    except PermissionError:
        raise ParamsError(f"{path}: cannot read the {what}: permission denied") from None
    except OSError as exc:
        raise ParamsError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ParamsError(f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); "
                          f"a {what} is UTF-8") from None


def parse_yaml(text: str, name: str) -> Any:
    """The YAML document of ``text`` (YAML 1.2 floats; no anchors, aliases or duplicate keys); a one-line
    ParamsError naming ``name`` (the file), the line and the column otherwise."""
    try:
        if not _has_anchors(text):
            return yaml.load(text, Loader=_FastYaml12Loader)  # noqa: S506 - a SafeLoader's constructor
    except Exception:  # noqa: BLE001, S110 - the loader below meets it again and says what it is
        pass
    try:
        return yaml.load(text, Loader=_Yaml12Loader)  # noqa: S506 - a SafeLoader subclass
    except _Refused as exc:
        mark = exc.problem_mark
        raise ParamsError(f"{name}, line {mark.line + 1}, column {mark.column + 1}: {exc.problem}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        what = "; ".join(p for p in (exc.context, exc.problem) if p)
        raise ParamsError(f"{name}: not valid YAML{where}: {cut(' '.join(what.split()), 2 * SHOWN)}") from None
    except yaml.YAMLError as exc:
        raise ParamsError(f"{name}: not valid YAML: {cut(' '.join(str(exc).split()), 2 * SHOWN)}") from None
    except RecursionError:  # PyYAML composes nested collections by recursion
        raise ParamsError(f"{name}: not a params file: its lists or mappings nest too deeply") from None
    except ValueError as exc:  # a whole number of more than sys.get_int_max_str_digits() digits
        raise ParamsError(f"{name}: not a params file: {cut(str(exc).split(';')[0], 2 * SHOWN)}") from None


def read_yaml(path: str | Path) -> Any:
    """The YAML document of ``path`` (see :func:`parse_yaml`); a ParamsError naming the file if it is missing,
    unreadable, not UTF-8 or not valid YAML."""
    return parse_yaml(read_text(path), str(path))


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
        if meta.get("names"):
            for k in value:
                check_name(k, key, meta["names"])
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
        try:
            number = float(value)
        except OverflowError:  # a whole number past float's range
            number = math.inf
        if not math.isfinite(number):  # nan passes every bound check and inf most; both crash a run late
            lo, hi = meta.get("min"), meta.get("max")
            bounds = f" ({_range(lo, hi)})" if lo is not None or hi is not None else ""
            raise ParamsError(f"{key} = {shown(value)} must be a finite number{bounds}; .nan, .inf and -.inf are not")
        value = number
    elif hint is str:
        if not isinstance(value, str):
            raise ParamsError(f"{key} = {show(value)} must be a string")
        choices = meta.get("choices")
        if choices is not None and value not in choices:
            raise ParamsError(f"{key} = {shown(value)} is not allowed; choose one of: {', '.join(choices)}")
        pattern = meta.get("pattern")
        if pattern is not None and not pattern.fullmatch(value):
            raise ParamsError(f"{key} = {shown(value)} is not allowed; use one of: {meta['forms']}")
    lo, hi = meta.get("min"), meta.get("max")
    if lo is not None and value < lo or hi is not None and value > hi:
        raise ParamsError(f"{key} = {shown(value)} is out of range; allowed: {_range(lo, hi)}")
    return value


# --------------------------------------------------------------------------- the wording of errors


def did_you_mean(name: str, allowed: list[str]) -> str:
    """' (did you mean 'x'?)' for the closest of ``allowed``, or ''."""
    if len(name) > 2 * SHOWN:  # no name meant is this long, and difflib's time grows with its square
        return ""
    close = difflib.get_close_matches(name, allowed, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_key_message(key: str, name: str, allowed: list[str]) -> str:
    """The error of a name that is not among ``allowed``: the key, the closest allowed name, all of them."""
    return f"unknown key {shown(key)}{did_you_mean(name, allowed)}; allowed here: {', '.join(allowed) or 'none'}"


def join(where: str, key: object) -> str:
    """The dotted key of ``key`` under ``where`` ('' = the top level); a long key is cut, as :func:`shown` cuts."""
    key = cut(str(key), KEY_SHOWN)
    return f"{where}.{key}" if where else key


#: the most characters of a value an error message shows: a message stays one readable line
SHOWN = 80
KEY_SHOWN = 64  # of one key of a dotted key: a whole name (see NAME)
_repr = reprlib.Repr()
# reprlib looks at no more than a few items of each collection and a few levels down, so a huge or deeply
# nested value costs no more to show than a small one
_repr.maxlevel, _repr.maxdict, _repr.maxlist, _repr.maxtuple = 3, 4, 6, 6
_repr.maxstring = _repr.maxother = _repr.maxlong = SHOWN


def shown(value: Any, limit: int = SHOWN) -> str:
    """``value``'s repr as an error message shows it: at most ``limit`` characters, a longer one cut with '...'."""
    try:
        return cut(_repr.repr(value), limit)
    except ValueError:  # an int of more than sys.get_int_max_str_digits() digits has no repr
        return f"<{type(value).__name__} too long to show>"


def cut(text: str, limit: int = SHOWN) -> str:
    """``text`` if it has at most ``limit`` characters, else its start and '...' in ``limit`` characters."""
    return text if len(text) <= limit else text[:limit - 3] + "..."


def show(value: Any) -> str:
    """A value (cut, see :func:`shown`) and its YAML-read type, as errors show a value of the wrong type."""
    return f"{shown(value)} ({type(value).__name__})"


#: a name that becomes a file or folder name (a run's folder data/models/<run>): no '/', no '..', no capitals
NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
NAME_FORMS = "lower-case letters, digits, '-', '_' and '.', at most 64, the first a letter or digit, no '..'"


def check_name(name: Any, where: str, what: str) -> None:
    """Refuse ``name``, a key under ``where`` that becomes a file or folder name (``what`` says which), unless it
    is a safe one: no path separator, no '..', nothing a file system or a shell reads differently."""
    text = str(name) if isinstance(name, int) and not isinstance(name, bool) else name  # `2024:` is a name too
    if not (isinstance(text, str) and NAME.fullmatch(text) and ".." not in text):
        raise ParamsError(f"{where}: the name {shown(name)} is not allowed ({what}); use {NAME_FORMS}")


def _range(lo: Any, hi: Any) -> str:
    if lo is not None and hi is not None:
        return f"{lo} <= value <= {hi}"
    return f">= {lo}" if lo is not None else f"<= {hi}"
