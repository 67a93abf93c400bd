"""How a conditional GAN's obedience to its label grows with training: for each step count, a run trained
from scratch by the one trainer, then the share of its samples the dataset's evaluator reads as the class asked
for (claim conditional-follows-label's measure, ganlab.claims.conditional.follows_label).

    .venv/bin/python benchmarks/conditional_schedule.py --run acgan --steps 450 1350 2700 [--seed 0] \
        [--data-root data] [--params params.yaml] [--threads 1]

RUN's settings are models.RUN's in the params with train.steps replaced; the dataset and its evaluator
(data/evaluators/<dataset>) must be there, as `dvc repro evaluator@mnist` leaves them. Each step count trains
in a temporary folder; the samples are the claim's (2,000, class i % k, noise seed 10,000 + the seed). The
schedule of models.cgan and models.acgan was chosen from this curve on seed 0 (2026-12-07: ACGAN 0.348,
0.804, 0.849, 0.881 at 450, 1,350, 2,700, 5,400 steps; CGAN 0.128, 0.684, 0.786 at 1,800, 5,400, 10,800).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import tempfile
import time
from pathlib import Path

import torch

from ganlab.claims.conditional import SAMPLE_SEED, evaluator_of, follows_label
from ganlab.params import load_params
from ganlab.train.run import train_run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", default="acgan", help="a conditional run under models: (cgan, acgan)")
    ap.add_argument("--steps", type=int, nargs="+", required=True, help="the step counts to train")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-root", type=Path, default=Path("data"))
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    base = load_params(args.params).models[args.run]
    extractor = evaluator_of(base.data, args.data_root)
    print(f"{args.run} on {base.data}, seed {args.seed}, {args.threads} thread(s)")
    print(f"{'steps':>7} {'follows label':>13} {'seconds':>8}  per class")
    for steps in args.steps:
        train = dataclasses.replace(base.train, steps=steps, seed=args.seed, sample_every=steps, checkpoint_every=steps)
        run = dataclasses.replace(base, train=train)
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            train_run({args.run: run}, args.run, args.data_root, Path(tmp), restart="yes", progress=False)
            got = follows_label(Path(tmp) / "generator.pt", extractor, SAMPLE_SEED + args.seed)
            seconds = time.perf_counter() - t0
        per_class = " ".join(f"{k}:{v:.2f}" for k, v in got["per_class"].items())
        print(f"{steps:7d} {got['accuracy']:13.3f} {seconds:8.0f}  {per_class}")


if __name__ == "__main__":
    main()
