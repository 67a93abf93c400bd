"""How InfoGAN's codes come to mean something with training: one run trained by the one trainer, resumed from
its checkpoint at each step count (the trainer resumes to the same weights an uninterrupted run reaches), and
measured there as claim infogan-codes measures a seed (ganlab.claims.infogan): the categorical code's share of
samples matched to their class, and the slant and width codes' mean rank correlations.

    .venv/bin/python benchmarks/infogan_schedule.py --steps 1000 2000 4000 [--run infogan] [--seed 0] \
        [--data-root data] [--params params.yaml] [--threads 1]

RUN's settings are models.RUN's in the params with train.steps replaced; MNIST and its evaluator
(data/evaluators/mnist) must be there, as `dvc repro evaluator@mnist` leaves them. The schedule of models.infogan
was chosen from this curve on seed 0 (2026-12-07, two threads): code matched to class 0.282, 0.255, 0.293, 0.326,
0.335, 0.366, 0.377 at 500, 1,000, 2,000, 3,000, 4,000, 6,000, 8,000 steps (about 30 s a thousand steps); with the
paper's width (model.width 64) 0.204 and 0.225 at 1,000 and 2,000 steps.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import tempfile
import time
from pathlib import Path

import torch

from ganlab.claims.infogan import SAMPLE_SEED, code_finds_class, continuous_codes, evaluator_of
from ganlab.params import load_params
from ganlab.train.run import train_run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", default="infogan", help="an InfoGAN run under models:")
    ap.add_argument("--steps", type=int, nargs="+", required=True, help="the step counts to measure at, rising")
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
    print(f"{'steps':>7} {'code class':>10} {'slant':>6} {'width':>6} {'seconds':>8}")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for steps in sorted(args.steps):
            train = dataclasses.replace(base.train, steps=steps, seed=args.seed, sample_every=steps,
                                        checkpoint_every=min(args.steps))
            run = dataclasses.replace(base, train=train)
            train_run({args.run: run}, args.run, args.data_root, Path(tmp), restart="no", progress=False)
            generator = Path(tmp) / "generator.pt"
            cat = code_finds_class(generator, extractor, SAMPLE_SEED + args.seed)
            cont = continuous_codes(generator, SAMPLE_SEED + args.seed)
            print(f"{steps:7d} {cat['accuracy']:10.3f} {cont['slant']:6.3f} {cont['width']:6.3f} "
                  f"{time.perf_counter() - started:8.0f}", flush=True)


if __name__ == "__main__":
    main()
