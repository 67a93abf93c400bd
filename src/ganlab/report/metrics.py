"""The combined metrics table (stage metrics-table): every run's numbers from reports/metrics/runs,
grouped by protocol, beside published numbers that are kept apart.

Numbers are comparable only under one protocol (extractor weights, reference split, n_real,
n_fake, dataset variant), so runs are grouped by it and each group's table is printed under its
protocol. Published numbers come last, under their own protocol: most were measured with
Inception-v3 on the official CIFAR-10, which an evaluator network's numbers cannot be set against.

The sample metrics' columns (in table.json, the README tables and the plots CSV) are their headline
numbers in ganlab.eval.metrics.METRICS; the columns after them (class accuracy, copies, NN ratio,
Parzen LL) come from other parts of a run's result and are spelled here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ganlab.errors import GanlabError
from ganlab.eval import floors
from ganlab.eval.metrics import headline_columns
from ganlab.files import write_json_atomic, write_text_atomic

log = logging.getLogger(__name__)

#: (model, dataset, measure, value, protocol, source). Inception numbers: Inception-v3 (TF graph), 50,000 samples.
PUBLISHED: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("GAN", "MNIST", "Parzen log-likelihood (nats)", "225 +- 2",
     "Gaussian Parzen window on 10,000 samples, sigma by validation, test set", "Goodfellow et al. 2014, Table 1"),
    ("DCGAN", "CIFAR-10", "Inception Score", "6.16 +- 0.07", "Inception-v3, 50k samples",
     "as reported by Gulrajani et al. 2017, Table 3"),
    ("WGAN-GP (ResNet)", "CIFAR-10", "Inception Score", "7.86 +- 0.07", "Inception-v3, 50k samples, unsupervised",
     "Gulrajani et al. 2017, Table 3"),
    ("SNGAN (standard CNN)", "CIFAR-10", "Inception Score / FID", "7.42 +- 0.08 / 29.3",
     "Inception-v3, the paper's own sample counts", "Miyato et al. 2018, Table 2"),
    ("SNGAN (ResNet)", "CIFAR-10", "Inception Score / FID", "8.22 +- 0.05 / 21.7 +- 0.21",
     "Inception-v3, the paper's own sample counts",
     "Miyato et al. 2018, Table 3"),
    ("ProGAN", "CIFAR-10", "Inception Score", "8.80 +- 0.05", "Inception-v3, unsupervised",
     "Karras et al. 2018, Table 3"),
)



def flat_row(result: dict[str, Any]) -> dict[str, float]:
    """The headline numbers of one run's result, for the DVC metrics table (None left out)."""
    row = {k: result.get(k) for h in headline_columns() for k in (h.key, h.spread) if k}
    accuracy = result.get("class_accuracy")
    row["class_accuracy"] = accuracy.get("accuracy") if isinstance(accuracy, dict) else None
    memorisation = result.get("memorisation")
    if isinstance(memorisation, dict):
        row["copies"] = memorisation.get("confirmed_share")
        row["nn_ratio"] = (memorisation.get("nearest") or {}).get("distance_ratio")
    parzen = result.get("parzen")
    row["parzen_ll"] = parzen.get("log_likelihood") if isinstance(parzen, dict) else None
    return {k: round(float(v), 6) for k, v in row.items() if v is not None}


def protocol_key(protocol: dict[str, Any]) -> tuple:
    """What must be equal for two runs' numbers to be comparable."""
    return (protocol.get("dataset"), protocol.get("dataset_variant"), protocol.get("extractor"),
            protocol.get("extractor_weights_sha256"), protocol.get("reference_split"), protocol.get("n_real"),
            protocol.get("n_fake"), protocol.get("reference_adapted"))


def describe(protocol: dict[str, Any]) -> str:
    subset = protocol.get("reference_subset") or {}
    drawn = f"{protocol.get('n_real')} drawn with seed {subset.get('seed')}" if subset else f"all {protocol.get('n_real')}"
    adapted = protocol.get("reference_adapted")
    return (f"dataset `{protocol.get('dataset')}` ({protocol.get('dataset_variant')}); reference: "
            f"{protocol.get('reference_split')} split, {drawn}; generated: {protocol.get('n_fake')} per run; "
            f"extractor `{protocol.get('extractor')}` trained on {protocol.get('extractor_trained_on')}, weights "
            f"sha256 `{str(protocol.get('extractor_weights_sha256'))[:16]}...`, input "
            f"{'x'.join(map(str, protocol.get('input_size') or []))}, resize: {protocol.get('resize')}"
            + (f"; images converted: {adapted}" if adapted else "")
            + f"; torch-fidelity {protocol.get('torch_fidelity')}")


def _fmt(value: Any, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _read_results(files: list[Path], prefix: str = "") -> dict[str, dict[str, Any]]:
    results = {}
    for path in files:
        try:
            result = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise GanlabError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(result, dict) or "protocol" not in result:
            raise GanlabError(f"{path}: no protocol; not a metrics result")
        results[prefix + path.stem] = result
    return results


def _result_files(folder: Path, names: Iterable[str] | None, what: str, stage: str) -> list[Path]:
    """``folder``/<name>.json for each name (each must exist), or every .json there when names is None.
    Files of other names are left out with a warning: the outputs of a run that has left params.yaml
    stay on disk (and in git, for outputs DVC does not cache) until someone deletes them."""
    found = sorted(folder.glob("*.json"))
    if names is None:
        return found
    names = list(names)
    stale = sorted(path.name for path in found if path.stem not in names)
    if stale:
        log.warning("%s: left out %s, not under %s in params.yaml", folder, ", ".join(stale), what)
    missing = [name for name in names if not (folder / f"{name}.json").is_file()]
    if missing:
        raise GanlabError(f"{folder}: no result for {', '.join(missing)} ({what}); run "
                          + ", ".join(f"`dvc repro {stage}@{name}`" for name in missing))
    return [folder / f"{name}.json" for name in names]


def _collect(runs_dir: str | Path, real_dir: str | Path | None, runs: Iterable[str] | None,
             datasets: Iterable[str] | None) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """(name -> result, the generated runs' names in that order): the runs' results, then the real images'
    as ``real-<dataset>``. Each folder is read once, so a stale file there is warned about once."""
    runs_dir = Path(runs_dir)
    files = _result_files(runs_dir, runs, "metrics.runs", "metrics")
    if not files:
        raise GanlabError(f"{runs_dir}: no <run>.json files; run the metrics@<run> stages first")
    results = _read_results(files)
    run_names = list(results)
    real_files = _result_files(Path(real_dir), datasets, "metrics.references", "reference") \
        if real_dir is not None else []
    results.update(_read_results(real_files, prefix="real-"))
    return results, run_names


def build_table(runs_dir: str | Path, real_dir: str | Path | None = None, runs: Iterable[str] | None = None,
                datasets: Iterable[str] | None = None) -> tuple[dict[str, dict[str, float]], str]:
    """(table.json content, README markdown) from the <run>.json of each of ``runs`` in ``runs_dir`` (default:
    every one there), with the real held-out images of each of ``datasets`` (``real_dir``/<dataset>.json, as
    ``real-<dataset>``; default: every one there) beside them."""
    return _render(*_collect(runs_dir, real_dir, runs, datasets))


def floor_verdicts(results: dict[str, dict[str, Any]], runs: Iterable[str]) -> dict[str, dict[str, Any]]:
    """run -> :func:`ganlab.eval.floors.judge` of each generated run of ``runs`` against its dataset's real images
    and failure floors (``real-<dataset>`` of ``results``, from stage reference@<dataset>)."""
    out = {}
    for run in runs:
        real = results.get(f"real-{results[run]['protocol'].get('dataset')}")
        out[run] = floors.judge(results[run], real, (real or {}).get("floors"))
    return out


def _render(results: dict[str, dict[str, Any]], runs: Iterable[str]) -> tuple[dict[str, dict[str, float]], str]:
    table = {run: flat_row(r) for run, r in results.items()}
    verdicts = floor_verdicts(results, runs)
    for run, v in verdicts.items():
        if v["verdict"] != "unjudged":  # for `dvc metrics show`: 1 clear of both failures, 0 below
            table[run]["floors_clear"] = float(v["verdict"] == "clear")
    columns = headline_columns()
    lower = [h.label for h in columns if h.lower_is_better]
    higher = [h.label for h in columns if not h.lower_is_better] + ["class accuracy"]

    groups: dict[tuple, list[str]] = {}
    for run, r in results.items():
        groups.setdefault(protocol_key(r["protocol"]), []).append(run)
    lines = ["# Sample-quality metrics", "",
             "Written by `dvc repro` (stages reference@<dataset>, metrics@<run>, metrics-table). Numbers are "
             "comparable only within one table: each is measured under the protocol printed above it. "
             f"{' and '.join(lower)}: lower is better; {', '.join(higher)}: higher is better. "
             "KID is MMD^2 x 1 (not x 1000). Copies: share of generated images within the de-duplication "
             "threshold of a training image by perceptual hash and confirmed by the curation's aligned correlation. "
             "NN ratio: median distance of a generated image to its nearest training image over that of a held-out "
             "real image, in evaluator features (well below 1: samples hug the training set). The *real ... images* row of each table puts held-out real "
             "images in the generated images' place: the floor of FID and KID, and precision and recall a perfect "
             "generator would reach. Floors: whether the run is clear of two failures measured the same way, one "
             f"image repeated and uniform noise: at least {floors.SHARE:g} of the way from the better failure to "
             "the real images on IS and on recall (ganlab.eval.floors; a tenth is about what a generator of one "
             "class in ten would cover), `below:` names the measure that is not; `-`: not judged (the failures "
             "score as the real images do on that dataset's evaluator, or no floors were measured).", ""]
    for key, runs in sorted(groups.items(), key=lambda kv: str(kv[0])):
        protocol = results[runs[0]]["protocol"]
        lines += [f"## {protocol.get('dataset')} ({protocol.get('extractor')})", "", describe(protocol), "",
                  "| run | variant | " + " | ".join(h.label + (" (std)" if h.spread else "") for h in columns)
                  + " | class acc. | copies | NN ratio | Parzen LL | floors |",
                  "|---|---|" + "---:|" * (len(columns) + 4) + "---|"]
        for run in sorted(runs, key=lambda r: table[r].get("fid", float("inf"))):
            r, row = results[run], table[run]
            generated = r["protocol"].get("generated", {})
            variant = generated.get("variant") or f"*{generated.get('run', 'real images')}*"
            cells = [_fmt(row.get(h.key), h.digits) + (f" ({_fmt(row.get(h.spread), h.digits)})" if h.spread else "")
                     for h in columns]
            lines.append(
                f"| {run} | {variant} | {' | '.join(cells)} | {_fmt(row.get('class_accuracy'))} | "
                f"{_fmt(row.get('copies'), 4)} | {_fmt(row.get('nn_ratio'), 2)} | {_fmt(row.get('parzen_ll'), 1)} | "
                f"{floors.cell(verdicts[run]) if run in verdicts else ''} |")
        lines.append("")
    lines += ["## Published numbers (not ours; other protocols)", "",
              "Measured by the papers' authors, most with Inception-v3 on the official CIFAR-10. They are comparable "
              "with ours only where our protocol names the same extractor, dataset variant and sample counts "
              "(set `metrics.extractor: inception-v3-compat` on a machine with its weights).", "",
              "| model | dataset | measure | value | protocol | source |", "|---|---|---|---|---|---|"]
    lines += [f"| {m} | {d} | {k} | {v} | {p} | {s} |" for m, d, k, v, p, s in PUBLISHED]
    return table, "\n".join(lines) + "\n"


def plot_columns() -> tuple[str, ...]:
    """The plots CSV's header: the run, each sample metric's headline number (no spreads), copies."""
    return ("run", *(h.key for h in headline_columns()), "copies")


def plot_rows(results: dict[str, dict[str, Any]], table: dict[str, dict[str, float]], runs: Iterable[str]
              ) -> dict[str, str]:
    """dataset -> CSV text, one row per run of ``runs`` (sorted by name): the cross-variant comparison that
    `dvc plots show` draws (top-level plots in dvc.yaml). One file per dataset, since FIDs under two
    extractors cannot share an axis."""
    columns = plot_columns()
    by_dataset: dict[str, list[str]] = {}
    for run in sorted(runs):
        dataset = results[run]["protocol"].get("dataset")
        row = table[run]
        by_dataset.setdefault(str(dataset), []).append(
            ",".join([run] + [_fmt(row.get(c), 6) for c in columns[1:]]))
    return {d: ",".join(columns) + "\n" + "\n".join(rows) + "\n" for d, rows in by_dataset.items()}


def write_metrics_table(runs_dir: str | Path, out: str | Path, real_dir: str | Path | None = None,
                        runs: Iterable[str] | None = None, datasets: Iterable[str] | None = None
                        ) -> dict[str, dict[str, float]]:
    """OUT/table.json (DVC metrics: run -> headline numbers), OUT/README.md and OUT/plots/<dataset>.csv,
    of ``runs`` and the real images of ``datasets`` (default: every result file there is)."""
    results, run_names = _collect(runs_dir, real_dir, runs, datasets)
    table, markdown = _render(results, run_names)
    out = Path(out)
    write_json_atomic(out / "table.json", table)
    write_text_atomic(out / "README.md", markdown)
    for dataset, text in plot_rows(results, table, run_names).items():
        write_text_atomic(out / "plots" / f"{dataset}.csv", text)
    log.info("metrics table of %d runs in %s", len(table), out)
    return table
