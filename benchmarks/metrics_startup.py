"""What a metrics stage pays before it measures, before and after a change, in fresh processes.

    .venv/bin/python benchmarks/metrics_startup.py --before REV [--run dcgan] [--repeats 7]

"before" runs the code of git revision REV (its src/ exported to a temporary folder and put first on
PYTHONPATH), "after" this checkout's; the two alternate, so that load on the machine hits both alike,
and the medians are printed with their ratio. Three rows:

- importing the metrics stage's modules (ganlab.eval.pipeline);
- that, then loading a generator.pt and drawing one sample: what every metrics stage does first.
  The file is run RUN's variant and config from params.yaml with fresh weights (start-up does not
  depend on the weights);
- with ``--stage``: the whole stage, ``python stages/metrics.py RUN`` into a temporary folder (needs
  RUN's generator, reference and evaluator in data/, as ``dvc repro metrics@RUN`` leaves them).

Run it with the machine quiet.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LOAD = ("import sys, torch; from ganlab.runs import load_generator; v = load_generator(sys.argv[1]); v.nets.eval(); "
        "torch.no_grad().__enter__(); v.sample(v.noise(1))")


def seconds(cmd: list[str], src: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(src)}
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def export_src(rev: str, into: Path) -> Path:
    """REV's src/ under ``into`` (git archive: no checkout, nothing of this worktree touched)."""
    archive = subprocess.run(["git", "archive", rev, "src"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def make_generator(run: str, path: Path) -> Path:
    from ganlab.data.datasets import read_info
    from ganlab.models.base import DataSpec
    from ganlab.params import load_params
    from ganlab.runs import build_variant, export_generator

    params = load_params("params.yaml")
    r = params.models[run]
    info_dir = Path("data") / r.data
    shape = (1, 28, 28)
    if (info_dir / "dataset.json").is_file():
        h, w, c = read_info(info_dir)["shape"]
        shape = (c, h, w)
    variant = build_variant(r.variant, r.variant_config(), DataSpec(shape, 0), "cpu")
    return export_generator(variant, path, step=0, channels_last=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="the git revision whose src/ is 'before'")
    parser.add_argument("--run", default="dcgan", help="the run under models: whose generator is loaded")
    parser.add_argument("--stage", action="store_true", help="also time the whole metrics@RUN stage")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        before_src, after_src = export_src(args.before, tmp_path), Path("src").resolve()
        generator = make_generator(args.run, tmp_path / "generator.pt")
        rows = {"import ganlab.eval.pipeline": [sys.executable, "-c", "import ganlab.eval.pipeline"],
                "+ load a generator, draw a sample": [sys.executable, "-c",
                                                      "import ganlab.eval.pipeline; " + LOAD, str(generator)]}
        if args.stage:
            rows[f"stages/metrics.py {args.run}"] = [sys.executable, "stages/metrics.py", args.run,
                                                     "--out-dir", str(tmp_path / "out")]
        seconds([sys.executable, "-c", "import torch"], after_src)  # warm the file cache
        print(f"before: {args.before}; after: this checkout; medians of {args.repeats}, alternating")
        print(f"{'':36} {'before (s)':>10} {'after (s)':>10} {'saved':>7} {'ratio':>6}")
        for name, cmd in rows.items():
            before, after = [], []
            for _ in range(args.repeats):
                before.append(seconds(cmd, before_src))
                after.append(seconds(cmd, after_src))
            b, a = statistics.median(before), statistics.median(after)
            print(f"{name:36} {b:10.2f} {a:10.2f} {b - a:7.2f} {b / a:6.2f}")


if __name__ == "__main__":
    main()
