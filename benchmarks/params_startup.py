"""What every stage pays to read params.yaml, before and after a change, in fresh processes.

    .venv/bin/python benchmarks/params_startup.py --before REV [--params params.yaml] [--repeats 7]

Each stage starts by validating params.yaml (ganlab.params.load_params): parsing the YAML, checking every
section, and importing the model modules to check each run's config. "before" runs the code of git revision
REV (its src/ exported to a temporary folder, first on PYTHONPATH), "after" this checkout's; the two alternate,
so that load on the machine hits both alike. Rows:

- the seconds of ``load_params`` inside a process that has imported torch and ganlab.params (what the call
  costs a stage), and of a second call in the same process (the YAML and the checks alone: the model
  modules are imported by then);
- the whole process: ``import torch`` and ``load_params`` from a cold interpreter.

Both loads are checked to give the same Params. Run it with the machine quiet.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from metrics_startup import export_src, seconds

CHILD = """
import json, sys, time
import torch
from ganlab.params import load_params
t0 = time.perf_counter(); p = load_params(sys.argv[1]); t1 = time.perf_counter(); load_params(sys.argv[1])
t2 = time.perf_counter()
print(json.dumps({"first": t1 - t0, "again": t2 - t1, "params": repr(p)}))
"""


def child(src: Path, params: str) -> dict:
    import os

    out = subprocess.run([sys.executable, "-c", CHILD, params], check=True, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(src)}).stdout
    return json.loads(out.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="the git revision whose src/ is 'before'")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        before_src, after_src = export_src(args.before, Path(tmp)), Path("src").resolve()
        cold = [sys.executable, "-c", "import sys, torch; from ganlab.params import load_params; "
                                      "load_params(sys.argv[1])", args.params]
        seconds([sys.executable, "-c", "import torch"], after_src)  # warm the file cache
        rows: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in ("first", "again", "process")}
        for _ in range(args.repeats):
            for side, src in enumerate((before_src, after_src)):
                got = child(src, args.params)
                if side == 0:
                    reference = got["params"]
                elif got["params"] != reference:
                    raise SystemExit("the two revisions read different Params from " + args.params)
                rows["first"][side].append(got["first"])
                rows["again"][side].append(got["again"])
                rows["process"][side].append(seconds(cold, src))
    names = {"first": "load_params, first call in a stage", "again": "load_params, called again",
             "process": "python: import torch, load_params"}
    print(f"before: {args.before}; after: this checkout; {args.params}; medians of {args.repeats}, alternating; "
          "same Params: yes")
    print(f"{'':38} {'before (s)':>10} {'after (s)':>10} {'saved':>7} {'ratio':>6}")
    for key, (before, after) in rows.items():
        b, a = statistics.median(before), statistics.median(after)
        print(f"{names[key]:38} {b:10.3f} {a:10.3f} {b - a:7.3f} {b / a:6.2f}")


if __name__ == "__main__":
    main()
