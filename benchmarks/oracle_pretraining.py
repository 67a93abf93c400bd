"""The oracle study's three runs trained both ways in one process: each pre-training itself (self-contained, as
before ganlab.train.pretraining) and sharing oracle-mle's (oracle-mle keeps its step-``pretrain_steps`` snapshot,
oracle-seqgan and oracle-maligan start from it, as params.yaml has them). Prints each run's seconds, each way's
total and their ratio, and whether every run ends with the same NLL-oracle and NLL-gen, weights and dvclive rows
past the pre-training both ways.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/oracle_pretraining.py [--params params.yaml] [--data-root data]
        [--pretrain-steps N] [--mle-steps N] [--d-pretrain-steps N] [--iterations N] [--eval-every N] [--repeats 1]

With --repeats N the two ways alternate in order, each repeat into fresh folders, and the fastest total of each
way is compared (the machine's load affects both alike).

The schedule is params.yaml's (models.oracle-mle, oracle-seqgan, oracle-maligan) unless an option cuts it; the
dataset is DATA_ROOT/oracle (stage oracle), copied into a scratch folder, so nothing of the project is written.
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from ganlab.params import Params
from ganlab.runs import RunDir, read_checkpoint
from ganlab.schema import from_dict
from ganlab.train.run import train_run

MLE, GANS = "oracle-mle", ("oracle-seqgan", "oracle-maligan")


def schedule(params: Path, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The three runs' sections of ``params`` with the options' cuts, sharing as params.yaml has them."""
    models = yaml.safe_load(params.read_text())["models"]
    runs = {name: copy.deepcopy(models[name]) for name in (MLE, *GANS)}
    pre = args.pretrain_steps or runs[GANS[0]]["model"]["pretrain_steps"]
    runs[MLE]["train"]["steps"] = args.mle_steps or runs[MLE]["train"]["steps"]
    runs[MLE]["train"]["snapshot_steps"] = [pre]
    for name in GANS:
        model, train = runs[name]["model"], runs[name]["train"]
        d_pre = model["d_pretrain_steps"] = args.d_pretrain_steps or model["d_pretrain_steps"]
        iterations = args.iterations or train["steps"] - model["pretrain_steps"] - model["d_pretrain_steps"]
        model["pretrain_steps"] = pre
        train["steps"] = pre + d_pre + iterations
        runs[name]["pretrained_from"] = MLE
    if args.eval_every:
        for run in runs.values():
            run["train"]["eval_every"] = args.eval_every
    return runs


def self_contained(runs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The same runs, each pre-training itself."""
    alone = copy.deepcopy(runs)
    alone[MLE]["train"].pop("snapshot_steps")
    for name in GANS:
        alone[name].pop("pretrained_from")
    return alone


def train_all(runs: dict[str, dict[str, Any]], data_root: Path) -> dict[str, float]:
    """Train the three runs into DATA_ROOT/models (oracle-mle first); seconds each."""
    models = from_dict(Params, {"models": runs}, "").models
    seconds = {}
    for name in (MLE, *GANS):
        start = time.perf_counter()
        train_run(models, name, data_root, progress=False)
        seconds[name] = time.perf_counter() - start
    return seconds


def rows_after(run: Path, step: int) -> dict[str, list[list[str]]]:
    """The run's dvclive rows past ``step`` (images/s, the clock's, left out)."""
    found = {}
    for tsv in sorted((run / "dvclive" / "plots" / "metrics").rglob("*.tsv")):
        past = [r for r in list(csv.reader(tsv.open(), delimiter="\t"))[1:] if int(r[0]) > step]
        if past and tsv.name != "images_per_s.tsv":
            found[str(tsv.relative_to(run))] = past
    return found


def same(a: Path, b: Path, step: int) -> tuple[bool, str]:
    """Whether runs ``a`` and ``b`` end alike: scores, every weight, dvclive rows past ``step``; and the final score."""
    sa, sb = (json.loads(RunDir(p).summary.read_text()) for p in (a, b))
    na, nb = (read_checkpoint(RunDir(p).checkpoint).model["nets"] for p in (a, b))
    weights = na.keys() == nb.keys() and all(torch.equal(v, nb[k]) for k, v in na.items())
    ok = sa["eval"] == sb["eval"] and weights and rows_after(a, step) == rows_after(b, step)
    return ok, f"NLL-oracle {sa['eval']['nll_oracle']:.6f} / {sb['eval']['nll_oracle']:.6f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--data-root", type=Path, default=Path("data"), help="holds oracle/ (stage oracle)")
    ap.add_argument("--pretrain-steps", type=int, default=0, help="the GAN runs' MLE steps (default: params.yaml's)")
    ap.add_argument("--mle-steps", type=int, default=0, help="oracle-mle's steps (default: params.yaml's)")
    ap.add_argument("--d-pretrain-steps", type=int, default=0, help="discriminator pre-training (default: params')")
    ap.add_argument("--iterations", type=int, default=0, help="adversarial iterations (default: params.yaml's)")
    ap.add_argument("--eval-every", type=int, default=0, help="MLE steps between scores (default: each run's)")
    ap.add_argument("--repeats", type=int, default=1, help="times each way is trained, alternating the order")
    args = ap.parse_args()
    shared = schedule(args.params, args)
    pre = shared[GANS[0]]["model"]["pretrain_steps"]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', 'unset')}; {MLE} {shared[MLE]['train']['steps']} steps, GAN runs "
          f"{pre} MLE + {shared[GANS[0]]['model']['d_pretrain_steps']} discriminator + "
          f"{shared[GANS[0]]['train']['steps'] - pre - shared[GANS[0]]['model']['d_pretrain_steps']} adversarial")
    with tempfile.TemporaryDirectory(prefix="oracle-pretraining-") as tmp:
        plans = {"self-contained": self_contained(shared), "shared": shared}
        totals: dict[str, list[float]] = {way: [] for way in plans}
        for repeat in range(args.repeats):
            roots = {way: Path(tmp) / f"{way}-{repeat}" for way in plans}
            for way in (list(plans) if repeat % 2 == 0 else list(plans)[::-1]):
                shutil.copytree(args.data_root / "oracle", roots[way] / "oracle")
                times = train_all(plans[way], roots[way])
                totals[way].append(sum(times.values()))
                print(f"{way:15s} " + "  ".join(f"{name} {s:6.1f} s" for name, s in times.items())
                      + f"  total {totals[way][-1]:6.1f} s")
        best = {way: min(t) for way, t in totals.items()}
        print(f"shared / self-contained: {best['shared'] / best['self-contained']:.3f} "
              f"({best['self-contained'] - best['shared']:.1f} s saved; fastest of {args.repeats} each)")
        for name in (MLE, *GANS):
            ok, scores = same(RunDir.of(name, roots["self-contained"]).root, RunDir.of(name, roots["shared"]).root,
                              pre if name in GANS else 0)
            print(f"{name:15s} same final metrics, weights and dvclive rows both ways: {'yes' if ok else 'NO'} "
                  f"({scores})")


if __name__ == "__main__":
    main()
