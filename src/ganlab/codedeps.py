"""Which source files a stage executes, read from the code: the static import closure of its entry modules.

dvc.yaml's code deps decide what a code change re-runs. Listed by hand they drift (a module gains an import
and its stage goes stale) or are made coarse to be safe (a whole folder, so editing one variant retrains every
run). Parsed from the imports with ``ast`` (nothing is imported, so no torch), they are exact and fine-grained:
``ganlab pipeline`` writes the train stage's from them (ganlab.catalogue), and other stages' can follow.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable
from pathlib import Path


def _module_file(module: str, src: Path) -> Path | None:
    base = src.joinpath(*module.split("."))
    for path in (base / "__init__.py", base.with_suffix(".py")):
        if path.is_file():
            return path
    return None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(module: str, src: Path) -> set[str]:
    """The modules under ``src`` that ``module`` imports anywhere in its source (functions too: a lazy import
    runs as surely as a top-level one when its function does), except under ``if TYPE_CHECKING:``.
    A dynamic import (importlib, as the registry loads every variant) is not seen, by design."""
    path = _module_file(module, src)
    if path is None:
        return set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = _imported_names(path, path.stat().st_mtime_ns, package)
    return {m for m in names if _module_file(m, src) is not None}


@functools.lru_cache(maxsize=None)
def _imported_names(path: Path, mtime_ns: int, package: str) -> frozenset[str]:
    """Every name an import statement of ``path`` could load (cached per file version: the train stage's 30-odd
    runs share most of their closure)."""
    found: set[str] = set()
    todo: list[ast.AST] = [ast.parse(path.read_text(), str(path))]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            todo.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parent = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            name = ".".join(parent + ([node.module] if node.module else []))
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names)  # `from pkg import module`
        todo.extend(ast.iter_child_nodes(node))
    return frozenset(found)


def module_closure(roots: Iterable[str], src: Path) -> list[str]:
    """``roots`` and every module under ``src`` they import, transitively, with the packages that hold them
    (importing ``a.b.c`` runs ``a/__init__.py`` and ``a/b/__init__.py``)."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        module = todo.pop()
        if module in seen or _module_file(module, src) is None:
            continue
        seen.add(module)
        parts = module.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        todo += sorted(imports_of(module, src))
    return sorted(seen)


def code_paths(modules: Iterable[str], root: Path) -> list[str]:
    """Module names -> their files as dvc.yaml lists them (relative to the project ``root``)."""
    paths = (_module_file(m, root / "src") for m in modules)
    return sorted({p.relative_to(root).as_posix() for p in paths if p is not None})
