"""What a module imports, read from the code: the one reader behind each stage's code deps and the no-cycle test.

A stage's code deps decide what a code change re-runs. Listed by hand they drift (a module gains an import
and its stage goes stale) or are made coarse to be safe (a whole folder, so editing one variant retrains every
run). Parsed from the imports with ``ast`` (nothing is imported, so no torch), they are exact and fine-grained:
stage ``code`` writes each stage's manifest, data/code/<stage>.sha256, from the closure of its script's imports
(ganlab.manifests), and each stage depends on its manifest alone. The same reader gives tests/test_imports.py
the package's import graph, so "what does this module import" has one answer.

An import inside a function counts as much as one at the top (it runs as surely when its function does, and a
cycle hidden in a function is still a cycle); one under ``if TYPE_CHECKING:`` never runs and is left out. A
dynamic import (importlib, as the model registry loads every variant) is not seen, by design: :func:`stage_code`
names the stages that run code imported that way.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable
from pathlib import Path

STAGES = "stages"  # one script per DVC stage: stages/<stage>.py, `_` for the stage name's `-`
VARIANTS = "ganlab.models"  # the package the model registry imports every module of (importlib)
#: the stages that build any run's variant from its files (ganlab.runs.load_generator, build_variant), chosen by
#: a params value: each runs the code of every module the registry imports. Other stages reach the registry only
#: to check params (a variant's code does not change what they write); a train run lists its own variant's.
BUILD_ANY_VARIANT = ("metrics", "report", "transfer", "study", "claim")
#: one import's candidate targets, the first that is a module under src wins, and its line
_Target = tuple[tuple[str, ...], int]


def module_file(module: str, src: Path) -> Path | None:
    """The file of ``module`` under ``src`` (a package's ``__init__.py``), or None if it is not there."""
    base = src.joinpath(*module.split("."))
    for path in (base / "__init__.py", base.with_suffix(".py")):
        if path.is_file():
            return path
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def import_statements(path: Path) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement of the file at ``path``, at any depth (functions, classes, try blocks), in line
    order, except those under ``if TYPE_CHECKING:`` (its ``else:`` runs, so counts)."""
    return _statements(path.read_text(), str(path))


def _statements(source: str, filename: str) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []
    todo: list[ast.AST] = [ast.parse(source, filename)]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            todo.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return sorted(found, key=lambda n: (n.lineno, n.col_offset))


@functools.lru_cache(maxsize=None)
def _targets(source: str, filename: str, package: str) -> tuple[_Target, ...]:
    """What each import of a file could load (cached by its text, which a rewrite within one clock tick changes
    as its mtime may not: the train stage's 30-odd runs share most of their closure). ``import a.b`` loads a.b;
    ``from a import n`` loads a.n when n is a submodule, else a (a package's __init__.py); a relative import is
    resolved against ``package``."""
    found: list[_Target] = []
    for node in _statements(source, filename):
        if isinstance(node, ast.Import):
            found += [((alias.name,), node.lineno) for alias in node.names]
            continue
        parts = package.split(".") if package else []
        anchor = parts[: len(parts) - node.level + 1] if node.level else []
        base = ".".join(anchor + ([node.module] if node.module else []))
        found += [((f"{base}.{alias.name}", base), node.lineno) for alias in node.names]
    return tuple(found)


def file_imports(path: Path, package: str, src: Path) -> dict[str, int]:
    """The modules under ``src`` that the file at ``path`` imports -> the line of its first import of each.
    ``package`` is the one a relative import is resolved against ("" for a script run by its path)."""
    edges: dict[str, int] = {}
    for candidates, line in _targets(path.read_text(), str(path), package):
        target = next((c for c in candidates if module_file(c, src) is not None), None)
        if target is not None:
            edges.setdefault(target, line)
    return edges


def imports_of(module: str, src: Path) -> dict[str, int]:
    """The other modules under ``src`` that ``module`` imports -> the line of its first import of each."""
    path = module_file(module, src)
    if path is None:
        return {}
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    return {m: line for m, line in file_imports(path, package, src).items() if m != module}


def package_modules(package: str, src: Path) -> dict[str, Path]:
    """Dotted name -> file of every module of ``package`` under ``src``, subpackages too (a package is its
    __init__.py)."""
    modules = {}
    for path in sorted(src.joinpath(*package.split(".")).rglob("*.py")):
        parts = path.relative_to(src).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def import_graph(package: str, src: Path) -> dict[str, dict[str, int]]:
    """module -> {module it imports: line of the first import}, over every module of ``package``."""
    return {name: imports_of(name, src) for name in package_modules(package, src)}


def module_closure(roots: Iterable[str], src: Path) -> list[str]:
    """``roots`` and every module under ``src`` they import, transitively, with the packages that hold them
    (importing ``a.b.c`` runs ``a/__init__.py`` and ``a/b/__init__.py``)."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        module = todo.pop()
        if module in seen or module_file(module, src) is None:
            continue
        seen.add(module)
        parts = module.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        todo += sorted(imports_of(module, src))
    return sorted(seen)


def code_paths(modules: Iterable[str], root: Path) -> list[str]:
    """Module names -> their files as dvc.yaml lists them (relative to the project ``root``)."""
    paths = (module_file(m, root / "src") for m in modules)
    return sorted({p.relative_to(root).as_posix() for p in paths if p is not None})


def script_code(script: Path, root: Path, dynamic: Iterable[str] = ()) -> list[str]:
    """The source files (relative to ``root``) that running ``script`` executes, as far as imports show: the
    script, then the closure inside ``root``/src of its imports and of the modules in ``dynamic`` (those it
    imports in a way no import statement shows)."""
    src = root / "src"
    modules = module_closure([*file_imports(script, "", src), *dynamic], src)
    return [script.relative_to(root).as_posix()] + code_paths(modules, root)


def stage_names(root: Path) -> list[str]:
    """The DVC stages that run a script of ``root``/stages."""
    return [script.stem.replace("_", "-") for script in sorted((root / STAGES).glob("*.py"))]


def stage_code(stage: str, root: Path, variant: str = "") -> list[str]:
    """The source files (relative to ``root``) that ``stage`` executes, as far as imports show: its script and
    the closure of its imports, with every module of ganlab.models for a stage that builds any variant and
    ``variant``'s module for a train run (``""``: the code every train run shares)."""
    dynamic = [f"{VARIANTS}.{variant}"] if variant else []
    if stage in BUILD_ANY_VARIANT:
        dynamic += list(package_modules(VARIANTS, root / "src"))
    return script_code(root / STAGES / f"{stage.replace('-', '_')}.py", root, dynamic)
