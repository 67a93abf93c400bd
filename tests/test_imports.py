"""The package's import structure: no import cycle, and validating params never loads torch.

The graph is read from the source by ganlab.codedeps, the reader that lists each stage's code deps, not by
importing: an import inside a function counts as much as one at the top of a module (it forms the same
cycle, only later, and hiding a cycle in a function is what this test exists to stop). Imports under
``if TYPE_CHECKING:`` never run and are left out.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from ganlab import codedeps

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = "ganlab"

#: import edges (importer, imported) a cycle may pass through for now; empty when there is none to allow
ALLOWED_EDGES: frozenset[tuple[str, str]] = frozenset()


def module_files(src: Path = SRC) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package (a package is its __init__.py)."""
    return codedeps.package_modules(PACKAGE, src)


def import_graph(src: Path = SRC) -> dict[str, dict[str, int]]:
    """module -> {imported module: line}, over every module of the package. ``import ganlab.x.y`` and
    ``from ganlab.x import y`` (y a submodule) import ganlab.x.y; ``from ganlab.x import f`` (f a name defined
    there) imports ganlab.x, which for a package is its __init__.py; relative imports are resolved."""
    return codedeps.import_graph(PACKAGE, src)


def find_cycle(graph: dict[str, dict[str, int]], allowed: frozenset[tuple[str, str]] = frozenset()
               ) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None; edges in ``allowed`` are left out of the graph."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done (no cycle through it)
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, {})):
            if (node, nxt) in allowed:
                continue
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start)
            if cycle:
                return cycle
    return None


def describe(cycle: list[str], graph: dict[str, dict[str, int]]) -> str:
    return "\n".join(f"  {a} -> {b}  ({module_files()[a].relative_to(ROOT)}:{graph[a][b]})"
                     for a, b in zip(cycle, cycle[1:]))


# --------------------------------------------------------------------------- the graph reader itself


def test_the_graph_reads_every_kind_of_import(tmp_path):
    pkg = tmp_path / PACKAGE
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "leaf.py").write_text("X = 1\n")
    (pkg / "a.py").write_text("from ganlab.sub import leaf\n")  # a submodule by name: the submodule
    (pkg / "b.py").write_text("def f():\n    from ganlab.a import thing\n")  # inside a function: counts
    (pkg / "c.py").write_text("import ganlab.sub\nfrom typing import TYPE_CHECKING\n"
                              "if TYPE_CHECKING:\n    from ganlab.b import f\n")  # a package; TYPE_CHECKING: not
    (pkg / "d.py").write_text("from .sub.leaf import X\nfrom . import c\n")  # relative
    graph = import_graph(tmp_path)
    assert graph[f"{PACKAGE}.a"] == {f"{PACKAGE}.sub.leaf": 1}
    assert graph[f"{PACKAGE}.b"] == {f"{PACKAGE}.a": 2}
    assert graph[f"{PACKAGE}.c"] == {f"{PACKAGE}.sub": 1}
    assert graph[f"{PACKAGE}.d"] == {f"{PACKAGE}.sub.leaf": 1, f"{PACKAGE}.c": 2}
    assert find_cycle(graph) is None
    (pkg / "sub" / "leaf.py").write_text("def g():\n    import ganlab.b\n")
    assert find_cycle(graph := import_graph(tmp_path)) == [f"{PACKAGE}.a", f"{PACKAGE}.sub.leaf", f"{PACKAGE}.b",
                                                          f"{PACKAGE}.a"]
    assert find_cycle(graph, frozenset({(f"{PACKAGE}.b", f"{PACKAGE}.a")})) is None


# --------------------------------------------------------------------------- the package


def test_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 50 and f"{PACKAGE}.params" in graph[f"{PACKAGE}.cli"]  # the reader sees the package
    cycle = find_cycle(graph, ALLOWED_EDGES)
    assert cycle is None, "import cycle (function-level imports count):\n" + describe(cycle, graph)


def test_allowed_edges_are_real():
    """An allowed edge that no longer exists is stale: delete it from ALLOWED_EDGES."""
    graph = import_graph()
    assert all(b in graph.get(a, {}) for a, b in ALLOWED_EDGES), sorted(ALLOWED_EDGES)


def test_schema_imports_nothing_of_the_package_but_the_errors():
    assert set(import_graph()[f"{PACKAGE}.schema"]) == {f"{PACKAGE}.errors"}


def test_no_module_imports_a_private_name_of_the_params_layer():
    """What other modules need of the schema (its error wording) is public: ganlab.schema.unknown_key_message."""
    layer = {f"{PACKAGE}.params", f"{PACKAGE}.schema"} | {m for m in module_files() if m.endswith(".config")}
    for name, path in module_files().items():
        for node in codedeps.import_statements(path):
            if isinstance(node, ast.ImportFrom) and node.module in layer and node.module != name:
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{name} imports {private} from {node.module}"


# --------------------------------------------------------------------------- torch stays out of params checks

NO_MODELS = """seed: 3
data:
  mnist: {variant: auto}
evaluators:
  mnist: {epochs: 1}
metrics: {references: {mnist: mnist}}
transfer: {runs: []}
report: {seed: 1}
"""


@pytest.fixture
def params_without_models(tmp_path: Path) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(NO_MODELS)
    return path


def _fresh_python(code: str, *args: str) -> subprocess.CompletedProcess:
    # a fresh interpreter: this test process has imported torch long ago
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT)


def test_loading_params_without_models_does_not_import_torch(params_without_models):
    proc = _fresh_python("import sys\nfrom ganlab.params import load_params\np = load_params(sys.argv[1])\n"
                         "assert p.seed == 3 and p.evaluators['mnist'].epochs == 1, p\n"
                         "print('torch' in sys.modules)", str(params_without_models))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False", "loading params without models: imported torch"


def test_check_params_command_without_models_does_not_import_torch(params_without_models):
    proc = _fresh_python("import sys\nfrom typer.testing import CliRunner\nfrom ganlab.cli import app\n"
                         "result = CliRunner().invoke(app, ['check-params', sys.argv[1]])\n"
                         "assert result.exit_code == 0, result.output\n"
                         "print(result.output.strip(), 'torch' in sys.modules)", str(params_without_models))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"{params_without_models}: ok False", "ganlab check-params imported torch"


def test_a_run_under_models_is_checked_against_its_variant(tmp_path):
    """The other side: with models: the registry is loaded (and torch with it) to check the run."""
    path = tmp_path / "params.yaml"
    path.write_text("models:\n  a: {variant: dcgan, data: mnist, model: {width: 8}}\n")
    proc = _fresh_python("import sys\nfrom ganlab.params import load_params\n"
                         "print(load_params(sys.argv[1]).models['a'].model.width, 'torch' in sys.modules)", str(path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "8 True"
