"""The pipeline's report (stage ``report``): ``reports/README.md`` and ``reports/index.html``.

One Markdown document is assembled from what the other stages wrote (sample grids, dvclive
curves, the metrics, transfer, sequence and curation reports) and from what only this stage
draws (latent interpolations, DCGAN's vector arithmetic, curve figures under
``reports/figures``). ``README.md`` links its images by relative path, for reading in a clone;
``index.html`` is the same document with every image inlined as a data URI and its style
inlined too, so the single file opens from disk in any browser, or travels by mail.

This module holds the stage (:func:`build`) and the sections that read what other stages wrote; the document
and its HTML are :mod:`ganlab.report.document`, the latent-space drawings :mod:`ganlab.report.latents`.

Sections appear for whatever exists: a run that has not trained yet is named with the command
that trains it, not silently dropped.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ganlab.errors import GanlabError
from ganlab.eval.metrics import headline_columns
from ganlab.files import write_text_atomic
from ganlab.images import save_figure
from ganlab.models import registry
from ganlab.report.claims import claims_section
from ganlab.report.config import ReportConfig
from ganlab.report.document import Document, rebase_links, render_html
from ganlab.report.latents import arithmetic_section, interpolation_section
from ganlab.runs import RunDir
from ganlab.train.config import RunParams

log = logging.getLogger(__name__)

FIGURES = "figures"
STEP_FILE = re.compile(r"^(?P<kind>.*?)(?:_)?step_(?P<step>\d+)\.png$")
#: dvclive series left out of the curve figures (throughput, not learning)
SKIP_SERIES = {"images_per_s"}
SUBREPORTS = (  # (title, markdown file under reports/, anchor)
    ("Metrics", "metrics/README.md", "metrics"),
    ("Transfer test (DCGAN, section 5.1)", "transfer/README.md", "transfer"),
    ("Sequence GANs", "sequences/README.md", "sequences"),
)


def build(models: Mapping[str, RunParams], config: ReportConfig | None = None, root: str | Path = ".",
          out: str | Path = "reports", device: str = "cpu") -> dict[str, Any]:
    """Write OUT/README.md, OUT/index.html and OUT/figures/ for the runs of ``models`` (params ``models:``)
    and the drawings of ``config`` (params ``report:``; None = its defaults); return a summary of what went in."""
    root, out = Path(root), Path(out)
    config = config if config is not None else ReportConfig()
    figures = out / FIGURES
    doc = Document(out)
    image_runs = {name: run for name, run in models.items()
                  if registry.get(run.variant).data_kind == "images"}
    sequence_runs = [name for name, run in models.items() if registry.get(run.variant).data_kind == "sequences"]

    claims_section(doc, out / "claims", out / "claims-profile")
    samples_section(doc, root, image_runs)
    curves_section(doc, root, models, figures / "curves")
    for title, rel, anchor in SUBREPORTS:
        if anchor == "sequences" and not sequence_runs:
            continue
        subreport_section(doc, out / rel, title, anchor)
    interpolation_section(doc, root, image_runs, config, figures / "interpolation", device)
    arithmetic_section(doc, root, models, config, figures / "arithmetic", device)
    latent_section(doc, root, image_runs)
    curation_section(doc, out / "dedup")
    evaluators_section(doc, out / "evaluators")

    text = "\n".join(_front(models, doc) + doc.lines).rstrip() + "\n"
    write_text_atomic(out / "README.md", text)
    page = render_html(text, out, title="ganlab report")
    write_text_atomic(out / "index.html", page)
    summary = {"sections": [t for t, _ in doc.sections], "images": doc.images, "missing": doc.missing,
               "html_bytes": len(page.encode())}
    log.info("report: %d sections, %d images, %.1f MB of HTML, %d missing", len(doc.sections), doc.images,
             summary["html_bytes"] / 1e6, len(doc.missing))
    return summary


def _front(models: Mapping[str, RunParams], doc: Document) -> list[str]:
    lines = ["# ganlab report", "",
             "Written by `dvc repro` (stage `report`, ganlab.report.page) from the pipeline's outputs; "
             "`reports/index.html` is this page with every image inside it. Numbers carry their protocol "
             "in the metrics section; published numbers are kept in tables of their own.", "",
             f"{len(models)} runs under `models:` in params.yaml.", ""]
    if doc.missing:
        lines += [f"**{len(doc.missing)} inputs are missing** (named where they belong): run `dvc repro`.", ""]
    lines += ["Contents:", ""] + [f"- [{title}](#{anchor})" for title, anchor in doc.sections] + [""]
    return lines


# --------------------------------------------------------------------------- sections


def latest_figures(samples: Path) -> dict[str, Path]:
    """kind -> the last-step PNG of that kind in a run's samples folder ('' = the sample grid);
    files without a step (latent.png, histogram.png) under their own name."""
    found: dict[str, tuple[int, Path]] = {}
    if not samples.is_dir():
        return {}
    for path in sorted(samples.glob("*.png")):
        m = STEP_FILE.match(path.name)
        kind, step = (m.group("kind"), int(m.group("step"))) if m else (path.stem, -1)
        if kind not in found or step > found[kind][0]:
            found[kind] = (step, path)
    order = sorted(found, key=lambda k: (k != "", k))
    return {k: found[k][1] for k in order}


def samples_section(doc: Document, root: Path, runs: dict[str, RunParams]) -> None:
    doc.section("Samples", "samples", "The last grid each run drew during training, from its fixed noise batch "
                "(conditional runs: a column per class), and the run's other figures at the same step.")
    metrics_dir = doc.out / "metrics" / "runs"
    for name, run in runs.items():
        doc.lines += [f"### {name}", "", f"`{run.variant}` on `{run.data}`, {run.train.steps} steps."
                      + _headline(metrics_dir / f"{name}.json"), ""]
        samples = RunDir.of(name, root / "data").samples
        figures = latest_figures(samples)
        if not figures:
            doc.note_missing(samples, f"not trained yet (`dvc repro train@{name}`)")
            continue
        row = [(path, kind.replace("_", " ") or "samples") for kind, path in figures.items()]
        nearest = doc.out / "metrics" / "nearest" / f"{name}.png"
        if nearest.is_file():
            row.append((nearest, "the samples nearest the training set, beside their nearest training images"))
        doc.image_row(row)


def _headline(path: Path) -> str:
    try:
        result = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return ""
    parts = [f"{h.label} {result[h.key]:.{h.page_digits}f}" for h in headline_columns()
             if h.page_digits is not None and isinstance(result.get(h.key), (int, float))]
    return f" {', '.join(parts)} ([protocol](#metrics))." if parts else ""


def read_series(dvclive: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """'train/loss_d' -> (steps, values) from a run's dvclive plots folder."""
    series = {}
    for tsv in sorted((dvclive / "plots" / "metrics").rglob("*.tsv")):
        name = tsv.relative_to(dvclive / "plots" / "metrics").with_suffix("").as_posix()
        if tsv.stem in SKIP_SERIES:
            continue
        rows = [line.split("\t") for line in tsv.read_text().splitlines()[1:] if line.strip()]
        try:
            steps = np.array([float(r[0]) for r in rows])
            values = np.array([float(r[1]) for r in rows])
        except (ValueError, IndexError):
            raise GanlabError(f"{tsv}: not a dvclive series (step<TAB>value rows)") from None
        if len(steps):
            series[name] = (steps, values)
    return series


def plot_curves(series: dict[str, tuple[np.ndarray, np.ndarray]], title: str, path: Path) -> Path:
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure registry to manage

    n = len(series)
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(3.2 * cols, 2.3 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, (name, (x, y)) in zip(axes.flat, series.items()):
        ax.plot(x, y, lw=1)
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("step", fontsize=7)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def curves_section(doc: Document, root: Path, models: Mapping[str, RunParams], figures: Path) -> None:
    doc.section("Training curves", "curves", "Every series each run logged with dvclive (losses, and scores "
                "taken during training such as NLL-oracle or BLEU), against the step. `dvc plots show` draws "
                "the same files, and the GAN family's losses side by side.")
    for name in models:
        dvclive = RunDir.of(name, root / "data").dvclive
        series = read_series(dvclive) if dvclive.is_dir() else {}
        if not series:
            doc.note_missing(dvclive, f"{name}: no curves (`dvc repro train@{name}`)")
            continue
        doc.lines += [f"### {name}", ""]
        doc.image(plot_curves(series, name, figures / f"{name}.png"), f"{name} training curves")


def subreport_section(doc: Document, path: Path, title: str, anchor: str) -> None:
    doc.section(title, anchor)
    if not path.is_file():
        doc.note_missing(path, f"{title}: not written yet")
        return
    text = path.read_text()
    text = re.sub(r"^(#+) ", lambda m: "#" * min(len(m.group(1)) + 2, 6) + " ", text, flags=re.M)  # under ##
    doc.lines += [rebase_links(text, path.parent, doc.out), ""]
    doc.images += len(re.findall(r"!\[[^\]]*\]\(", text))


def latent_section(doc: Document, root: Path, runs: dict[str, Any]) -> None:
    """The VAE manifold (2-D latent) and the AAE codes of the test digits, whichever runs drew them."""
    found = []
    for name in runs:
        figures = latest_figures(RunDir.of(name, root / "data").samples)
        for kind, title in (("manifold", "learnt manifold: decoded means over a grid of the 2-D latent's quantiles"),
                            ("latent", "codes of the test digits, coloured by class, over the prior")):
            if kind in figures:
                found.append((name, title, figures[kind]))
    if not found:
        return
    doc.section("Latent spaces", "latent", "Figures of the 2-D latent runs: the VAE's manifold (Kingma & Welling, "
                "Figure 4) and the adversarial auto-encoders' codes (Makhzani et al., Figures 2 and 4).")
    for name, title, path in found:
        doc.lines += [f"### {name}: {title}", ""]
        doc.image(path, f"{name} {title}")


def curation_section(doc: Document, dedup: Path) -> None:
    metrics = dedup / "metrics.json"
    if not metrics.is_file() and not (dedup / "gallery.png").is_file():
        return
    doc.section("Face curation", "curation", "Near-duplicate face crops removed before training (perceptual hash, "
                "then an aligned correlation check), as DCGAN's data curation did.")
    if metrics.is_file():
        m = json.loads(metrics.read_text())
        labels = {"n_in": "face crops in", "n_out": "faces kept", "removed": "removed as near-duplicates",
                  "candidate_pairs": "hash candidate pairs", "confirmed_pairs": "pairs confirmed by correlation",
                  "clusters": "duplicate clusters", "leaked_into_eval": "duplicates across train and test"}
        doc.lines += ["| | |", "|---|---|"] + [f"| {labels.get(k, k)} | {v} |" for k, v in m.items()] + [""]
    doc.lines += ["Duplicate clusters found (each row: the kept face, then the removed ones):", ""]
    doc.image(dedup / "gallery.png", "near-duplicate gallery")


def evaluators_section(doc: Document, folder: Path) -> None:
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not files:
        return
    doc.section("Evaluator networks", "evaluators", "The classifiers whose features the offline metrics use "
                "(stage evaluator@<dataset>).")
    doc.lines += ["| dataset | test accuracy | train images | epochs | seconds | weights sha256 |",
                  "|---|---|---|---|---|---|"]
    for f in files:
        e = json.loads(f.read_text())
        doc.lines.append(f"| {e.get('dataset')} | {100 * e.get('test_accuracy', float('nan')):.2f}% | "
                         f"{e.get('n_train')} | {e.get('epochs')} | {e.get('train_seconds')} | "
                         f"`{str(e.get('weights_sha256'))[:16]}...` |")
    doc.lines.append("")


