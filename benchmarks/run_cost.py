"""What each training run of a params file costs on this machine, without training it to the end.

Every run is trained twice from scratch into a scratch folder, for S and 3S steps (checkpoints and
grids at the same cadence as its params), and the two wall times give seconds per step and the fixed
cost (data loading, the end-of-run evaluation); the estimate for the run's own step count is then
fixed + steps x s/step. ProGAN's steps grow dearer with resolution, so its estimate is a lower bound;
WGAN's first 25 generator steps take 100 critic steps each, so its short runs overstate its s/step.

    .venv/bin/python benchmarks/run_cost.py [--params params.yaml] [--data data] [--runs gan dcgan] [--s 20]
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import tempfile
import time

import torch

from ganlab.params import load_params
from ganlab.train.run import train_run


def timed(params, name: str, data: str, steps: int) -> float:
    run = params.models[name]
    train = dataclasses.replace(run.train, steps=steps, eval_every=0,
                                checkpoint_every=max(steps, 1), sample_every=max(steps, 1))
    model = run.model
    if hasattr(model, "vq_steps"):  # VQ-VAE: keep both phases inside the short run
        model = dataclasses.replace(model, vq_steps=steps // 2)
    if hasattr(model, "phase_steps"):
        model = dataclasses.replace(model, phase_steps=max(1, steps // 10))
    short = dataclasses.replace(params, models={**params.models, name: dataclasses.replace(run, train=train, model=model)})
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        train_run(short, name, data_root=data, out=out, resume=False, progress=False)
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--data", default="data")
    ap.add_argument("--runs", nargs="*", help="default: every image run")
    ap.add_argument("--s", type=int, default=20, help="steps of the short run (the long one has 3x)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    params = load_params(args.params)
    names = args.runs or [n for n, r in params.models.items() if r.data not in ("oracle", "coco-captions")]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores")
    total = 0.0
    for name in names:
        t1 = timed(params, name, args.data, args.s)
        t3 = timed(params, name, args.data, 3 * args.s)
        per_step = max((t3 - t1) / (2 * args.s), 0.0)
        fixed = max(t1 - args.s * per_step, 0.0)
        steps = params.models[name].train.steps
        est = fixed + steps * per_step
        total += est
        print(f"{name:22s} {per_step * 1000:8.1f} ms/step  fixed {fixed:6.1f} s  x {steps:6d} steps = {est / 60:5.1f} min",
              flush=True)
    print(f"total {total / 60:.1f} min")


if __name__ == "__main__":
    main()
