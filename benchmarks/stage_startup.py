"""What a stage pays before it works: the seconds to import its modules, in fresh processes.

    .venv/bin/python benchmarks/stage_startup.py [--repeats 7]

Each row imports a stage's modules in a new interpreter; "+ torchvision.utils" adds the import that
ganlab.images made before it drew its grids itself (torchvision pulls in torch._dynamo), so the two
rows of a pair are the stage's start-up before and after that change, measured alternately in the same
run. The metrics, reference, transfer and report stages no longer import torch-fidelity, and so
torchvision, either (the last row; benchmarks/metrics_startup.py times that change against the revision
before it). Run it with the machine quiet.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

STAGES = {
    "train": "ganlab.train.run",
    "evaluator": "ganlab.eval.evaluator",
}  # the data stages never imported torchvision; for the metrics stages see benchmarks/metrics_startup.py


def import_seconds(modules: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import {modules}"], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    import_seconds("torch")  # warm the file cache
    print(f"{'stage modules':44} {'before (s)':>10} {'after (s)':>10} {'saved':>7}")
    for stage, modules in STAGES.items():
        before, after = [], []
        for _ in range(args.repeats):  # alternate, so that load on the machine hits both alike
            before.append(import_seconds(f"{modules}, torchvision.utils"))
            after.append(import_seconds(modules))
        b, a = statistics.median(before), statistics.median(after)
        print(f"{stage + ' (' + modules + ')':44} {b:10.2f} {a:10.2f} {b - a:7.2f}")
    metrics = statistics.median(import_seconds("ganlab.eval.pipeline") for _ in range(args.repeats))
    print(f"{'metrics (ganlab.eval.pipeline)':44} {'':10} {metrics:10.2f}")


if __name__ == "__main__":
    main()
