"""An evaluator's recipes, trained one after the other in the same run on the same data: its test
accuracy and seconds with the recipe params.yaml holds, and with each other recipe given.

    .venv/bin/python benchmarks/evaluator_recipe.py [--data data/cifar10] [--params params.yaml] \
        [--recipe 'before={"stem": "patch", "epochs": 8}'] [--recipe ...] [--threads 2]

A recipe is NAME=JSON: keys of evaluators.<dataset> (ganlab.eval.config.EvaluatorConfig) that
replace the params' values. Without --recipe it compares the params' recipe with the one it
replaced (REPLACED: CIFAR-10 shifts of 4 px for 7 epochs, before that a learnt 2x2 patch stem for 8; MNIST and
Fashion-MNIST no stem, 2 and 3 epochs). Training is deterministic for a seed and thread
count, so each accuracy is the one evaluator@<dataset> writes on this machine with those settings.
Run it with the machine quiet; a CIFAR-10 epoch takes about 40-50 s on two cores.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

from ganlab.eval.evaluator import train_evaluator_on
from ganlab.params import load_params

#: each dataset's recipe before its last change in params.yaml: CIFAR-10's before 2 px shifts (until 2026-12-08; the
#: learnt patch stem for 8 epochs before 2026-12-07), MNIST's and Fashion-MNIST's before the whitening stem
REPLACED = {"cifar10": {"shift": 0, "epochs": 7}, "mnist": {"stem": "none", "epochs": 2},
            "fashion-mnist": {"stem": "none", "epochs": 3}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="data/cifar10", help="a labelled image dataset folder (fetch@ writes them)")
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--recipe", action="append", default=[], metavar="NAME=JSON",
                    help="a recipe to compare: keys of evaluators.<dataset> over the params' values")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    name = Path(args.data).name
    evaluators = load_params(args.params).evaluators
    if name not in evaluators:
        ap.error(f"--data {args.data}: {args.params} has no evaluators.{name}; known: {', '.join(sorted(evaluators))}")
    base = evaluators[name]
    recipes = {"params": {}}
    if not args.recipe and name not in REPLACED:
        ap.error(f"--data {args.data}: no replaced recipe is known for {name!r}; give --recipe NAME=JSON")
    for item in args.recipe or [f"replaced={json.dumps(REPLACED[name])}"]:
        label, _, spec = item.partition("=")
        recipes[label] = json.loads(spec)
    rows = []
    for label, over in recipes.items():
        config = replace(base, **over)
        start = time.perf_counter()
        evaluator = train_evaluator_on(args.data, config, progress=False)
        rows.append((label, config, evaluator.info["test_accuracy"], time.perf_counter() - start))
    print(f"{name}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"{'recipe':<10} {'stem':<7} {'epochs':>6} {'shift':>5} {'width':>5} {'lr':>6} {'test acc':>8} {'seconds':>8} "
          f"{'ratio':>6}")
    first = rows[0][3]
    for label, config, acc, seconds in rows:
        c = asdict(config)
        print(f"{label:<10} {c['stem']:<7} {c['epochs']:>6} {c['shift'] or 'h/8':>5} {c['width']:>5} {c['lr']:>6g} "
              f"{acc:>8.4f} "
              f"{seconds:>8.1f} {seconds / first:>6.2f}")


if __name__ == "__main__":
    main()
