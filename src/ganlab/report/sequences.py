"""The sequence-GAN report: NLL-oracle beside SeqGAN's Table 1, BLEU and Self-BLEU on COCO captions
beside Texygen's, the curves over training, and sample sentences (stage sequences -> reports/sequences).

Every run under ``models:`` whose variant trains on sequences is read from its train_summary.json;
the table says how much each one actually trained (MLE epochs, discriminator steps, adversarial
iterations), because a published number comes from a far longer schedule than the CPU profile's.
A run that started from another run's pre-training (``pretrained_from``) carries that run's scores
up to it, so its row and curve read as those of a run that pre-trained itself; the table says whose
pre-training it shares, and its training seconds leave the shared steps out.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ganlab.data import oracle as oracle_data
from ganlab.data.datasets import load_text, read_info
from ganlab.data.text import tokenize
from ganlab.errors import GanlabError
from ganlab.eval.bleu import bleu, self_bleu
from ganlab.eval.sequences import ORDERS
from ganlab.files import atomic_write, write_json_atomic, write_text_atomic
from ganlab.models import registry
from ganlab.runs import RunDir
from ganlab.train.config import RunParams

log = logging.getLogger(__name__)

#: Yu et al. 2017, Table 1: NLL-oracle on their oracle (vocabulary 5,000, length 20); the authors' scripts
#: kept the best value seen while training
PUBLISHED_NLL_ORACLE = (("Random", 10.310), ("MLE", 9.038), ("Scheduled sampling", 8.985), ("PG-BLEU", 8.946),
                        ("SeqGAN", 8.736))
#: Texygen (Zhu et al. 2018), docs/evaluation.md, COCO captions with the test file as reference: BLEU-2..5, Self-BLEU-2..5
PUBLISHED_COCO = {
    "MLE": ((0.731, 0.497, 0.305, 0.189), (0.916, 0.769, 0.583, 0.408)),
    "SeqGAN": ((0.745, 0.498, 0.294, 0.180), (0.950, 0.840, 0.670, 0.489)),
    "MaliGAN": ((0.673, 0.432, 0.257, 0.159), (0.918, 0.781, 0.606, 0.437)),
}


def sequence_runs(models: Mapping[str, RunParams]) -> dict[str, RunParams]:
    """The runs of ``models`` (params ``models:``) whose variant trains on sequences."""
    return {name: run for name, run in models.items() if registry.get(run.variant).data_kind == "sequences"}


def read_summary(data_root: Path, name: str) -> dict[str, Any]:
    path = RunDir.of(name, data_root).summary
    try:
        summary = json.loads(path.read_text())
    except FileNotFoundError:
        raise GanlabError(f"{path}: missing; run `dvc repro train@{name}` first") from None
    except json.JSONDecodeError as exc:
        raise GanlabError(f"{path}: not valid JSON ({exc})") from None
    if not summary.get("finished") or not summary.get("evals"):
        raise GanlabError(f"{path}: run {name!r} has not finished (step {summary.get('step')}); run `dvc repro "
                          f"train@{name}`")
    if "phases" not in summary:
        raise GanlabError(f"{path}: no phases (written by an older ganlab); run `dvc repro -f train@{name}`")
    return summary


def phase_steps(phases: list[dict[str, Any]], name: str) -> int:
    """The steps the run spent in phase ``name`` (0 when it has none)."""
    return sum(p["steps"] for p in phases if p["name"] == name)


def schedule(phases: list[dict[str, Any]], batch: int, n_train: int) -> dict[str, Any]:
    """How much the run trained, from its train_summary.json's phases: MLE steps and epochs, discriminator
    pre-training, adversarial iterations, and the generator updates, discriminator minibatches and
    rollouts those add up to."""
    mle = phase_steps(phases, "mle")

    def total(count: str) -> int:
        return sum(p["steps"] * p.get("per_step", {}).get(count, 0) for p in phases)

    rollouts = [p["per_step"]["rollouts"] for p in phases if "rollouts" in p.get("per_step", {})]
    return {"mle_steps": mle, "mle_epochs": round(mle * batch / n_train, 1),
            "d_pretrain_steps": phase_steps(phases, "discriminator"),
            "adversarial_iterations": phase_steps(phases, "adversarial"),
            "g_updates": total("g_updates"), "d_minibatches": total("d_minibatches"),
            "rollouts": rollouts[0] if rollouts else None}


def g_updates_per_iteration(phases: list[dict[str, Any]]) -> int:
    """Generator updates in one adversarial iteration (1 for a run without one)."""
    return next((p["per_step"]["g_updates"] for p in phases if "g_updates" in p.get("per_step", {})), 1)


def eval_at(evals: list[dict[str, Any]], step: int, key: str) -> float | None:
    """The score of the last evaluation at or before ``step``."""
    before = [e for e in evals if e["step"] <= step and key in e]
    return before[-1][key] if before else None


def eval_at_x(curve: tuple, x: int, column: int) -> float | None:
    """A curve's value at the last point at or before x (column 1: NLL-oracle, 2: NLL-gen)."""
    points = [v for px, v in zip(curve[0], curve[column]) if px <= x]
    return points[-1] if points else None


def last_samples(data_root: Path, name: str, n: int) -> list[str]:
    files = sorted(RunDir.of(name, data_root).samples.glob("step_*.txt"))
    return files[-1].read_text().splitlines()[:n] if files else []


def shared_pretraining(runs: Mapping[str, RunParams], summaries: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """run -> its summary's ``pretrained`` (whose pre-training it started from, at which step), for the runs that
    started from another's."""
    return {name: summaries[name]["pretrained"] for name in runs if isinstance(summaries[name].get("pretrained"), dict)}


def shared_note(shared: dict[str, dict[str, Any]]) -> list[str]:
    """The lines under a table that say which runs share a pre-training."""
    if not shared:
        return []
    return ["", "Shared pre-training: " + "; ".join(
        f"{name} started from {p.get('run')}'s MLE at step {p.get('step')}" for name, p in shared.items())
        + " (the same data, seed, batch size and MLE settings: their own first steps, trained once). Their MLE "
          "columns and curves are that pre-training's; their train s leave it out."]


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def oracle_section(runs: dict[str, RunParams], summaries: dict[str, Any], data_root: Path, results: dict[str, Any]
                   ) -> tuple[list[str], Any]:
    info = read_info(data_root / oracle_data.NAME)
    lines = ["## The synthetic oracle (SeqGAN's benchmark)", "",
             f"NLL-oracle: the oracle LSTM's mean negative log-likelihood per token (nats) of 10,000 sequences "
             f"each model samples; lower is better. Our oracle is drawn from `oracle.seed` = {info['seed']} "
             f"(vocabulary {info['vocab']}, length {info['length']}); its own samples score "
             f"**{info['oracle_nll_of_its_own_samples']:.3f}**, the floor. The paper's oracle is another random "
             "LSTM, so compare the gaps (untrained → MLE → adversarial), not the absolute values.", "",
             "| run | variant | MLE epochs | D pre-training steps | adversarial iterations (G updates / D minibatches) "
             "| untrained | after MLE | final | best | train s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    curves, shared = {}, shared_pretraining(runs, summaries)
    for name, run in runs.items():
        s = summaries[name]
        plan = schedule(s["phases"], run.train.batch_size, info["n_train"])
        evals = s["evals"]
        mle_end = eval_at(evals, plan["mle_steps"], "nll_oracle")
        final = s["eval"]["nll_oracle"]
        best = min(e["nll_oracle"] for e in evals)
        adv = (f"{plan['adversarial_iterations']} ({plan['g_updates']} / {plan['d_minibatches']})"
               if plan["adversarial_iterations"] else "–")
        lines.append(f"| {name} | {run.variant} | {plan['mle_epochs']} | {plan['d_pretrain_steps'] or '–'} | {adv} | "
                     f"{_fmt(evals[0]['nll_oracle'])} | {_fmt(mle_end)} | **{final:.3f}** | {best:.3f} | "
                     f"{s['seconds']:.0f} |")
        results[name] = {"nll_oracle": final, "nll_oracle_best": best, "nll_oracle_after_mle": mle_end,
                         "nll_oracle_untrained": evals[0]["nll_oracle"], **plan, "seconds": s["seconds"]}
        if name in shared:
            results[name]["pretrained_from"] = shared[name].get("run")
        # x = generator updates: MLE steps, then one per adversarial G update (the discriminator's steps are left out)
        start = plan["mle_steps"] + plan["d_pretrain_steps"]
        g_steps = g_updates_per_iteration(s["phases"])
        x = [e["step"] if e["step"] <= plan["mle_steps"] else plan["mle_steps"] + (e["step"] - start) * g_steps
             for e in evals]
        mle_only = all(p["name"] == "mle" for p in s["phases"])
        curves[name] = (x, [e["nll_oracle"] for e in evals], [e["nll_gen"] for e in evals], plan["mle_steps"],
                        mle_only)
    lines += shared_note(shared)
    lines += ["", "Published (Yu et al. 2017, Table 1; their oracle, 120+ MLE epochs, up to 800 adversarial "
              "iterations, the best value seen while training):", "",
              "| model | NLL-oracle |", "|---|---|"]
    lines += [f"| {model} | {value:.3f} |" for model, value in PUBLISHED_NLL_ORACLE]
    lines += ["", "NLL-gen, the generator's NLL of 10,000 fresh oracle samples (coverage; the oracle's own rate is the floor):",
              "", "| run | untrained | after MLE | final |", "|---|---|---|---|"]
    lines += [f"| {name} | {_fmt(c[2][0])} | {_fmt(eval_at_x(c, c[3], 2))} | {_fmt(c[2][-1])} |" for name, c in curves.items()]
    lines += ["", "![NLL-oracle and NLL-gen over training](nll_oracle.png)", ""]
    for name in runs:
        lines += [f"Samples of {name} (token ids):", "", "```", *last_samples(data_root, name, 3), "```", ""]
    return lines, (curves, info["oracle_nll_of_its_own_samples"])


def text_section(data: str, runs: dict[str, RunParams], summaries: dict[str, Any], data_root: Path,
                 results: dict[str, Any]) -> list[str]:
    train = [t for t in map(tokenize, load_text(data_root / data, "train")) if t]
    test = [t for t in map(tokenize, load_text(data_root / data, "test")) if t]
    real_bleu, real_self = bleu(train, test, ORDERS), self_bleu(train, ORDERS)
    head = " | ".join(f"BLEU-{n}" for n in ORDERS) + " | " + " | ".join(f"Self-BLEU-{n}" for n in ORDERS)
    lines = [f"## Real text: {data}", "",
             f"Mean sentence BLEU-n of 10,000 generated sentences against all {len(test):,} test sentences "
             "(quality), and of each against the other generated ones (Self-BLEU, lower = more diverse); NLTK's "
             "smoothing method 1, as Texygen. The first row scores the training sentences themselves: what a model "
             "that reproduced the data would get.", "",
             f"| run | variant | MLE epochs | adversarial iterations | {head} | words/sentence |",
             "|---|---|---|---|" + "---|" * (2 * len(ORDERS) + 1)]
    lines.append("| *training sentences* | – | – | – | " + " | ".join(f"{real_bleu[n]:.3f}" for n in ORDERS) + " | "
                 + " | ".join(f"{real_self[n]:.3f}" for n in ORDERS)
                 + f" | {sum(map(len, train)) / len(train):.1f} |")
    results[f"{data}/training-sentences"] = {**{f"bleu{n}": v for n, v in real_bleu.items()},
                                             **{f"self_bleu{n}": v for n, v in real_self.items()}}
    for name, run in runs.items():
        s = summaries[name]
        plan = schedule(s["phases"], run.train.batch_size, len(train))
        e = s["eval"]
        lines.append(f"| {name} | {run.variant} | {plan['mle_epochs']} | {plan['adversarial_iterations'] or '–'} | "
                     + " | ".join(f"{e[f'bleu{n}']:.3f}" for n in ORDERS) + " | "
                     + " | ".join(f"{e[f'self_bleu{n}']:.3f}" for n in ORDERS) + f" | {e['mean_words']:.1f} |")
        results[name] = {**e, **plan, "seconds": s["seconds"]}
        if isinstance(s.get("pretrained"), dict):
            results[name]["pretrained_from"] = s["pretrained"].get("run")
    lines += shared_note(shared_pretraining(runs, summaries))
    lines += ["", "Published (Texygen, test file as reference; 80 MLE epochs, then 100 adversarial epochs):", "",
              f"| model | {head} |", "|---|" + "---|" * (2 * len(ORDERS))]
    lines += [f"| {model} | " + " | ".join(f"{v:.3f}" for v in (*b, *sb)) + " |" for model, (b, sb) in PUBLISHED_COCO.items()]
    lines.append("")
    for name in runs:
        lines += [f"Samples of {name}:", "", *[f"- {line}" for line in last_samples(data_root, name, 8)], ""]
    return lines


def plot_curves(curves: dict[str, Any], floor: float, path: Path) -> None:
    """NLL-oracle (quality) and NLL-gen (coverage) against generator updates, the end of MLE dotted."""
    import io

    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4))
    axes = fig.subplots(1, 2)
    for name, (x, oracle_nll, gen_nll, mle_steps, _) in curves.items():
        # the end of the pre-training of the runs that go on from MLE (c[4]: the run is MLE throughout)
        end = min(c[3] for c in curves.values() if not c[4]) if len(curves) > 1 else mle_steps
        since = [v - end for v in x]  # generator updates after the others' pre-training (negative: during it)
        for ax, values in zip(axes, (oracle_nll, gen_nll)):
            ax.plot(since[1:], values[1:], marker=".", ms=4, label=name)  # the untrained point would squash the rest
    for ax, what in zip(axes, ("NLL-oracle: the oracle's NLL of generated sequences (quality)",
                               "NLL-gen: the generator's NLL of fresh oracle sequences (coverage)")):
        ax.axvline(0, color="grey", ls=":", lw=1)
        ax.set_xscale("symlog", linthresh=50)  # 40 policy-gradient updates beside 1,500 MLE steps
        ax.set_xticks([-1000, -100, 0, 20, 40, 100, 1000], ["-1000", "-100", "0", "20", "40", "100", "1000"])
        ax.set_xlabel("generator updates after MLE pre-training (MLE steps, or policy-gradient steps)", fontsize=8)
        ax.set_ylabel("nats per token")
        ax.set_title(what, fontsize=9)
    axes[0].text(0.02, 0.02, f"the oracle's entropy rate: {floor:.2f}", transform=axes[0].transAxes, fontsize=8)
    axes[0].legend(fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    with atomic_write(path) as fh:
        fh.write(buf.getvalue())


def build(models: Mapping[str, RunParams], data_root: str | Path = "data", out: str | Path = "reports/sequences"
          ) -> dict[str, Any]:
    """Write OUT/README.md, OUT/metrics.json and OUT/nll_oracle.png for the sequence runs of ``models``."""
    data_root, out = Path(data_root), Path(out)
    runs = sequence_runs(models)
    summaries = {name: read_summary(data_root, name) for name in runs}  # all finished, before anything is written
    by_data: dict[str, dict[str, RunParams]] = {}
    for name, run in runs.items():
        by_data.setdefault(run.data, {})[name] = run
    lines = ["# Sequence GANs", "", "Written by `dvc repro` (stage `sequences`) from the runs' train_summary.json.", ""]
    results: dict[str, Any] = {}
    if oracle_data.NAME in by_data:
        section, (curves, floor) = oracle_section(by_data.pop(oracle_data.NAME), summaries, data_root, results)
        lines += section
        plot_curves(curves, floor, out / "nll_oracle.png")
    for data, group in sorted(by_data.items()):
        lines += text_section(data, group, summaries, data_root, results)
    write_text_atomic(out / "README.md", "\n".join(lines))
    write_json_atomic(out / "metrics.json", results)
    log.info("sequences: %d runs reported in %s", len(runs), out)
    return results
