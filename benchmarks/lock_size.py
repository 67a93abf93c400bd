"""What DVC's bookkeeping costs each stage, with every code file a dependency and with one code manifest per stage.

    .venv/bin/python benchmarks/lock_size.py --before REV [--stage toy] [--repeats 5]

After every stage it runs, DVC rewrites dvc.lock whole with ruamel's round-trip YAML (pure Python), so each stage
pays for the size of the whole lock. Before the code manifests (ganlab.codedeps), each stage listed the forty-odd
source files its imports reach, each an entry of dvc.lock. Run in a project whose pipeline is up to date (after
`dvc repro`), on a quiet machine. Two measures, before (dvc.yaml and dvc.lock of REV) and after (the working
tree's), alternated so that load on the machine hits both alike:

1. the round trip DVC makes of dvc.lock after a stage (ruamel load and dump, in this process);
2. `dvc repro -f -s STAGE`, the whole command for one cheap stage (its work is the same both times).

dvc.yaml and dvc.lock are put back as they were when it ends, whatever happens.
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ruamel.yaml import YAML

FILES = ("dvc.yaml", "dvc.lock")


def round_trip_seconds(text: str) -> float:
    """DVC's update of dvc.lock (dvc.utils.serialize.modify_yaml): a round-trip load, then a dump."""
    yaml = YAML()
    start = time.perf_counter()
    data = yaml.load(text)
    yaml.dump(data, io.StringIO())
    return time.perf_counter() - start


def repro_seconds(dvc: str, stage: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run([dvc, "repro", "-f", "-s", stage], capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"dvc repro -f -s {stage} failed:\n{proc.stderr[-2000:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="The git revision whose dvc.yaml and dvc.lock are 'before'.")
    parser.add_argument("--stage", default="toy", help="A cheap stage both pipelines have (default: toy).")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    dvc = str(Path(sys.executable).with_name("dvc"))
    saved = Path(tempfile.mkdtemp(prefix="lock_size."))
    for name in FILES:
        shutil.copy2(name, saved / name)
    versions = {"before": {n: subprocess.run(["git", "show", f"{args.before}:{n}"], capture_output=True, text=True,
                                             check=True).stdout for n in FILES},
                "after": {n: (saved / n).read_text() for n in FILES}}
    times: dict[str, dict[str, list[float]]] = {v: {"lock": [], "repro": []} for v in versions}
    try:
        for _ in range(args.repeats):
            for version, texts in versions.items():
                for name, text in texts.items():
                    Path(name).write_text(text)
                times[version]["lock"].append(round_trip_seconds(texts["dvc.lock"]))
                times[version]["repro"].append(repro_seconds(dvc, args.stage))
                versions[version]["dvc.lock"] = Path("dvc.lock").read_text()  # the stage's entry, rewritten by DVC
    finally:
        for name in FILES:
            shutil.copy2(saved / name, name)
        shutil.rmtree(saved)
    print(f"{'':8} {'dvc.lock lines':>14} {'lock round trip (s)':>20} {f'dvc repro -f -s {args.stage} (s)':>28}")
    med = {v: {k: statistics.median(t) for k, t in m.items()} for v, m in times.items()}
    for version, texts in versions.items():
        print(f"{version:8} {texts['dvc.lock'].count(chr(10)):14d} {med[version]['lock']:20.2f} "
              f"{med[version]['repro']:28.2f}")
    print(f"{'ratio':8} {'':14} {med['before']['lock'] / med['after']['lock']:19.1f}x "
          f"{med['before']['repro'] / med['after']['repro']:27.2f}x")
    print(f"saved per stage DVC runs: {med['before']['repro'] - med['after']['repro']:.2f} s "
          f"(medians of {args.repeats}, alternated)")


if __name__ == "__main__":
    main()
