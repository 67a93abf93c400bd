"""How InfoGAN's codes come to mean something with training: one run trained by the one trainer, resumed from
its checkpoint at each step count (the trainer resumes to the same weights an uninterrupted run reaches), and
measured there as claim infogan-codes measures a seed (ganlab.claims.infogan): the categorical code's share of
samples matched to their class, and the slant and width codes' mean rank correlations.

    .venv/bin/python benchmarks/infogan_schedule.py --steps 1000 2000 4000 [--model width=64 arch=dcgan] \
        [--run infogan] [--seed 0] [--data-root data] [--params params.yaml] [--threads 1]

RUN's settings are models.RUN's in the params with train.steps replaced (and model keys by --model); MNIST and its evaluator
(data/evaluators/mnist) must be there, as `dvc repro evaluator@mnist` leaves them. The networks and schedule of models.infogan were chosen
from these curves on seed 0 (2026-12-07, two threads; code matched to class / slant / width):

    paper's networks, width 64:  500: .292/.474/.385  1,000: .582/.258/.917  2,000: .847/.532/.838  4,000: .939/.933/.975
    paper's networks, width 32:  1,000: .681/.634/.234  2,000: .797/.436/.238  3,000: .817/.642/.071
    DCGAN's networks, width 32:  500: .282  1,000: .255  2,000: .293  3,000: .326  4,000: .335  6,000: .366  8,000: .377
    DCGAN's networks, width 64:  1,000: .204  2,000: .225

(about 140, 85 and 30 ms a step on two threads for the first three.)
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import tempfile
import time
from pathlib import Path

import torch
import yaml

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
    ap.add_argument("--model", nargs="*", default=[], metavar="KEY=VALUE", help="model settings over the run's")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    base = load_params(args.params).models[args.run]
    overrides = {k: yaml.safe_load(v) for k, v in (kv.split("=", 1) for kv in args.model)}
    base = dataclasses.replace(base, model=dataclasses.replace(base.model, **overrides))
    extractor = evaluator_of(base.data, args.data_root)
    print(f"{args.run} on {base.data}, model overrides {overrides or 'none'}, seed {args.seed}, {args.threads} thread(s)")
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
