"""The registry of model variants: one name, one class, one paper.

A variant module defines a :class:`~ganlab.models.base.Variant` subclass and decorates it with
``@register("name")``. The registry refuses a duplicate name or a class that is not a Variant,
so a typo or a copy-paste cannot silently shadow another model.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING, TypeVar

from ganlab.errors import GanlabError

if TYPE_CHECKING:
    from ganlab.models.base import Variant

V = TypeVar("V", bound="type[Variant]")

_REGISTRY: dict[str, type[Variant]] = {}
_LOADED = False  # every module of the package imported (once a process: validating a params file asks ~200 times)


def register(name: str):  # noqa: ANN201 - a class decorator
    def wrap(cls: V) -> V:
        # models.base imports torch; the registry itself must not, since the params checks import it to
        # name the variants (ganlab.train.config) and a params file without models: never loads torch
        from ganlab.models.base import Variant

        if not (isinstance(cls, type) and issubclass(cls, Variant)):
            raise TypeError(f"@register({name!r}) needs a Variant subclass, got {cls!r}")
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"variant {name!r} is already registered by {_REGISTRY[name].__module__}")
        if not (cls.__doc__ or "").strip():
            raise ValueError(f"variant {name!r} needs a docstring: a one-line description and its paper")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return wrap


def _load_all() -> None:
    """Import every module of the package: a variant registers itself on import. The shared modules
    (base, blocks, losses, the family bases such as translation and sequence) register nothing and
    are imported all the same, so a new shared module needs no entry anywhere."""
    global _LOADED
    if _LOADED:
        return
    import ganlab.models as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"ganlab.models.{info.name}")
    _LOADED = True


def names() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


def get(name: str) -> type[Variant]:
    _load_all()
    if name not in _REGISTRY:
        raise GanlabError(f"unknown variant {name!r}; registered: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def describe(name: str) -> str:
    """The first line of the variant's docstring."""
    return (get(name).__doc__ or "").strip().splitlines()[0]
