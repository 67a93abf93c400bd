"""Seed variance: the mean and spread of every run's metrics over DVC experiments that differ only in seeds.

Lucic et al. (2018, "Are GANs created equal?") showed that the spread over seeds of one GAN is
often wider than the gap between GANs, so a single run's FID ranks nothing. The recipe (README,
"Seed variance") queues one experiment per seed with ``dvc exp run --queue -S
models.<run>.train.seed=<s>``; :func:`variance_table` reads ``dvc exp show --json`` and groups
the experiments whose params are equal once every ``*.seed`` key is set aside, then gives per
group, run and metric the mean, the sample standard deviation, the min, the max and n.
"""

from __future__ import annotations

import json
import logging
import math
import subprocess
from pathlib import Path
from typing import Any

from ganlab.errors import GanlabError
from ganlab.files import write_json_atomic, write_text_atomic

log = logging.getLogger(__name__)

TABLE = "reports/metrics/table.json"
HEADLINE = ("fid", "kid_mean", "is_mean", "precision", "recall", "class_accuracy")


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for key, value in obj.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: obj}


def experiments(exp_show: list[dict[str, Any]], table: str = TABLE) -> list[dict[str, Any]]:
    """Each commit and experiment in ``dvc exp show --json`` output that has the metrics table:
    {"name", "params" (flat: key -> value), "metrics" (run -> metric -> value)}."""
    found = []

    def visit(entry: dict[str, Any]) -> None:
        data = entry.get("data") or {}
        params = ((data.get("params") or {}).get("params.yaml") or {}).get("data") or {}
        metrics = ((data.get("metrics") or {}).get(table) or {}).get("data")
        if metrics:
            rev = str(entry.get("rev", ""))
            found.append({"name": entry.get("name") or (rev if rev == "workspace" else rev[:7]),
                          "params": _flatten(params), "metrics": metrics})
        for exp in entry.get("experiments") or []:
            for rev in exp.get("revs") or []:
                visit(rev)

    if not isinstance(exp_show, list):
        raise GanlabError("not the output of `dvc exp show --json` (expected a list of commits)")
    for commit in exp_show:
        visit(commit)
    # the workspace last: after `dvc exp run` it repeats the experiment, which should keep its name
    return sorted(found, key=lambda e: e["name"] == "workspace")


def _stats(values: list[float]) -> dict[str, float]:
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return {"mean": mean, "std": std, "min": min(values), "max": max(values), "n": n}


def variance_table(exp_show: list[dict[str, Any]], table: str = TABLE) -> list[dict[str, Any]]:
    """Groups of experiments equal but for their seeds, each with its members, the seed params
    that vary, and run -> metric -> statistics over the members (duplicates of one result, as
    the workspace and the commit it matches, counted once)."""
    groups: dict[str, dict[str, Any]] = {}
    for exp in experiments(exp_show, table):
        fixed = {k: v for k, v in exp["params"].items() if not (k == "seed" or k.endswith(".seed"))}
        key = json.dumps(fixed, sort_keys=True, default=str)
        group = groups.setdefault(key, {"members": [], "seen": set(), "seeds": {}, "values": {}})
        fingerprint = json.dumps([exp["params"], exp["metrics"]], sort_keys=True, default=str)
        if fingerprint in group["seen"]:
            continue
        group["seen"].add(fingerprint)
        group["members"].append(exp["name"])
        for k, v in exp["params"].items():
            if k == "seed" or k.endswith(".seed"):
                group["seeds"].setdefault(k, []).append(v)
        for run, row in exp["metrics"].items():
            for metric, value in row.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    group["values"].setdefault(run, {}).setdefault(metric, []).append(float(value))
    out = []
    for group in groups.values():
        varying = {k: v for k, v in group["seeds"].items() if len(set(map(str, v))) > 1}
        stats = {run: {m: _stats(vals) for m, vals in metrics.items()} for run, metrics in group["values"].items()}
        out.append({"members": group["members"], "varying_seeds": varying, "runs": stats})
    return out


def render(groups: list[dict[str, Any]]) -> str:
    lines = ["# Seed variance", "",
             "Mean +- sample std (min..max) over experiments whose params differ only in seeds "
             "(`dvc exp show --json`). Compare variants by these distributions, not by their best run "
             "(Lucic et al. 2018).", ""]
    for i, group in enumerate(groups, 1):
        lines += [f"## Group {i}: {len(group['members'])} experiment(s): {', '.join(group['members'])}", ""]
        if group["varying_seeds"]:
            lines += ["Seeds: " + "; ".join(f"`{k}` = {', '.join(map(str, v))}" for k, v in group["varying_seeds"].items()), ""]
        lines += ["| run | n | " + " | ".join(HEADLINE) + " |", "|---|---:|" + "---:|" * len(HEADLINE)]
        for run, stats in sorted(group["runs"].items()):
            n = max((s["n"] for s in stats.values()), default=0)
            cells = []
            for metric in HEADLINE:
                s = stats.get(metric)
                cells.append("" if s is None else f"{s['mean']:.3f} +- {s['std']:.3f} ({s['min']:.3f}..{s['max']:.3f})")
            lines.append(f"| {run} | {n} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def dvc_exp_show(repo: str | Path = ".") -> list[dict[str, Any]]:
    """``dvc exp show --json`` of ``repo`` (all commits' experiments), parsed."""
    proc = subprocess.run(["dvc", "exp", "show", "--json", "--all-commits"], cwd=repo, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise GanlabError(f"`dvc exp show --json` failed in {repo}: {proc.stderr.strip()}")
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise GanlabError(f"`dvc exp show --json` gave no JSON ({exc}): {proc.stdout[:200]!r}") from None


def write_variance(repo: str | Path, out: str | Path) -> list[dict[str, Any]]:
    """OUT.json and OUT.md: :func:`variance_table` of the experiments of ``repo``."""
    groups = variance_table(dvc_exp_show(repo))
    if not groups:
        raise GanlabError(f"no experiment in {repo} has {TABLE}; run the pipeline (and the seed experiments) first")
    out = Path(out)
    write_json_atomic(out.with_suffix(".json"), groups)
    write_text_atomic(out.with_suffix(".md"), render(groups))
    log.info("seed variance of %d group(s) in %s", len(groups), out.with_suffix(".md"))
    return groups
