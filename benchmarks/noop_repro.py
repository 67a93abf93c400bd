"""How long `dvc repro` takes when nothing has changed (the issue's target: under 10 s).

    .venv/bin/python benchmarks/noop_repro.py [REPO] [--repeats 3]

REPO must be a project whose pipeline is up to date (after a `dvc repro`). Prints each run's
seconds, the stage count, and whether ruamel's C YAML parser (ruamel.yaml.clib) is importable:
DVC reads params.yaml once per stage with ``YAML(typ="safe")``, which uses the C parser when it
is installed and pure Python otherwise, and that parse is most of a no-op repro's time.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repo", nargs="?", default=".")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    dvc = str(Path(sys.executable).with_name("dvc"))
    stages = subprocess.run([dvc, "stage", "list"], cwd=args.repo, capture_output=True, text=True, check=True)
    print(f"{len(stages.stdout.splitlines())} stages; ruamel.yaml.clib "
          f"{'installed' if importlib.util.find_spec('_ruamel_yaml') else 'NOT installed'}")
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        out = subprocess.run([dvc, "repro"], cwd=args.repo, capture_output=True, text=True, check=True).stdout
        times.append(time.perf_counter() - start)
        if "Running stage" in out:
            sys.exit("the pipeline was not up to date: run `dvc repro` first")
    print("no-op dvc repro: " + ", ".join(f"{t:.2f} s" for t in times) + f" (median {statistics.median(times):.2f} s)")


if __name__ == "__main__":
    main()
