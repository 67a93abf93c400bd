"""Before/after timing in one process: a module as it was at a git revision, loaded beside this checkout's, and
the two versions of a call alternated, so that load on the machine hits both alike (benchmarks/*_ab.py)."""

from __future__ import annotations

import importlib.util
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np


def module_at(rev: str, path: str, name: str, folder: Path) -> ModuleType:
    """REV's version of the module at ``path`` (git show: nothing of the worktree touched), loaded as ``name``.
    Its own imports resolve to this checkout's modules."""
    source = subprocess.run(["git", "show", f"{rev}:{path}"], check=True, capture_output=True, text=True).stdout
    file = folder / f"{name}.py"
    file.write_text(source)
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def same(a: Any, b: Any) -> bool:
    """Equal to the bit: arrays element by element, tuples and dicts member by member."""
    if isinstance(a, tuple | list) and not isinstance(a, np.ndarray):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))


def alternate(label: str, before: Callable[[], Any], after: Callable[[], Any], repeats: int) -> float:
    """Run ``before`` and ``after`` in turn ``repeats`` times; print the median seconds of each, their ratio and
    whether every result of one equals the other's. Returns the ratio."""
    times: dict[str, list[float]] = {"before": [], "after": []}
    results: dict[str, list[Any]] = {"before": [], "after": []}
    for _ in range(repeats):
        for key, fn in (("before", before), ("after", after)):
            t = time.perf_counter()
            results[key].append(fn())
            times[key].append(time.perf_counter() - t)
    b, a = statistics.median(times["before"]), statistics.median(times["after"])
    equal = all(same(x, y) for x, y in zip(results["before"], results["after"]))
    print(f"{label:<44s} {b:9.3f} {a:9.3f} {b / a:5.2f}x  {equal}", flush=True)
    return b / a
