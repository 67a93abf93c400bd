"""The pipeline's report (stage ``report``): ``reports/README.md`` and ``reports/index.html``.

One Markdown document is assembled from what the other stages wrote (sample grids, dvclive
curves, the metrics, transfer, sequence and curation reports) and from what only this stage
draws (latent interpolations, DCGAN's vector arithmetic, curve figures under
``reports/figures``). ``README.md`` links its images by relative path, for reading in a clone;
``index.html`` is the same document with every image inlined as a data URI and its style
inlined too, so the single file opens from disk in any browser, or travels by mail.

Sections appear for whatever exists: a run that has not trained yet is named with the command
that trains it, not silently dropped.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import math
import os
import re
from dataclasses import dataclass, field
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganlab.data.kinds import image_distribution
from ganlab.errors import GanlabError
from ganlab.eval.metrics import headline_columns
from ganlab.files import atomic_write, write_text_atomic
from ganlab.images import save_figure, save_grid
from ganlab.models import registry
from ganlab.report.config import ReportConfig
from ganlab.report.samples import MODES, interpolation_grid
from ganlab.runs import RunDir, load_generator
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
STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 72rem; margin: 2rem auto;
       padding: 0 1rem; line-height: 1.45; color: #1b1b1b; }
h1, h2, h3 { line-height: 1.2; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2rem; margin-top: 2.5rem; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .9rem; }
th, td { border: 1px solid #ccc; padding: .25rem .5rem; text-align: left; } th { background: #f3f3f3; }
img { max-width: 100%; image-rendering: pixelated; border: 1px solid #eee; vertical-align: top;
      margin: 0 .6rem .6rem 0; }
code { background: #f5f5f5; padding: 0 .2rem; } pre { background: #f5f5f5; padding: .6rem; overflow-x: auto; }
nav ul { columns: 2; }
"""


@dataclass
class Document:
    """The Markdown being assembled, with what it refers to."""

    out: Path
    lines: list[str] = field(default_factory=list)
    sections: list[tuple[str, str]] = field(default_factory=list)  # (title, anchor)
    missing: list[str] = field(default_factory=list)
    images: int = 0

    def section(self, title: str, anchor: str, intro: str = "") -> None:
        self.sections.append((title, anchor))
        self.lines += ["", f'<a id="{anchor}"></a>', "", f"## {title}", ""]
        if intro:
            self.lines += [intro, ""]

    def image(self, path: Path, alt: str) -> bool:
        """An image by its path relative to the report folder; a missing file is named instead."""
        if not path.is_file():
            self.note_missing(path, alt)
            return False
        self.lines += [f"![{alt}]({_relative(path, self.out)})", ""]
        self.images += 1
        return True

    def image_row(self, items: list[tuple[Path, str]]) -> None:
        """Images side by side (one paragraph), each named in a caption line above them."""
        present = []
        for path, alt in items:
            if path.is_file():
                present.append((path, alt))
            else:
                self.note_missing(path, alt)
        if present:
            self.lines += [" | ".join(alt for _, alt in present) + ":", "",
                           " ".join(f"![{alt}]({_relative(path, self.out)})" for path, alt in present), ""]
            self.images += len(present)

    def note_missing(self, path: Path, what: str) -> None:
        self.missing.append(str(path))
        self.lines += [f"*{what}: `{path}` is missing.*", ""]


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
    doc.lines += [_rebase_links(text, path.parent, doc.out), ""]
    doc.images += len(re.findall(r"!\[[^\]]*\]\(", text))


def interpolation_section(doc: Document, root: Path, runs: dict[str, Any], config: ReportConfig, figures: Path,
                          device: str) -> None:
    doc.section("Latent interpolations", "interpolations",
                f"{config.interpolation_rows} walks of {config.interpolation_steps} images between random codes "
                f"(seed {config.seed}) of each unconditional generator: lerp walks the straight line, slerp the "
                "great circle, which keeps a Gaussian code at the norm the generator was trained on.")
    for name, run in runs.items():
        cls = registry.get(run.variant)
        if cls.conditional or not image_distribution(run.data):
            continue
        if not cls.has_latent_walk:
            doc.lines += [f"### {name}", "", f"No interpolation for `{run.variant}`: {cls.no_latent_walk_reason}.", ""]
            continue
        weights = RunDir.of(name, root / "data").generator
        doc.lines += [f"### {name}", ""]
        if not weights.is_file():
            doc.note_missing(weights, f"{name}: no generator (`dvc repro train@{name}`)")
            continue
        variant = load_generator(weights, device)
        doc.image_row([(interpolation_grid(variant, figures / f"{name}_{mode}.png", rows=config.interpolation_rows,
                                           steps=config.interpolation_steps, mode=mode, seed=config.seed), mode)
                       for mode in MODES])


@torch.no_grad()
def concept_arithmetic(variant: Any, config: ReportConfig) -> tuple[torch.Tensor, dict[str, tuple[torch.Tensor, int]]]:
    """The numbered candidates (N, C, H, W) and, per title, its figure's images and row length: each
    concept's samples beside the image of their mean code, then the result A - B + C and its noisy
    variations."""
    variant.nets.eval()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        g = torch.Generator(device=variant.device).manual_seed(config.seed)
        z = variant.noise(config.arithmetic_candidates, generator=g)
        if not z.is_floating_point():
            raise GanlabError(f"report.arithmetic_run: {variant.name}'s codes are {z.dtype}, not continuous vectors")
        candidates = variant.sample(z).cpu()
        figures = {}
        for title, concept in config.arithmetic.items():
            means = [z[list(getattr(concept, part))].mean(0) for part in ("a", "b", "c")]
            result = means[0] - means[1] + means[2]
            noise = (torch.rand((config.arithmetic_variations - 1, *result.shape), generator=g, device=z.device)
                     * 2 - 1) * config.arithmetic_noise
            results = torch.cat([result[None], result[None] + noise])
            mean_images = variant.sample(torch.stack(means)).cpu()
            out = variant.sample(results).cpu()
            width = max(config.arithmetic_variations, max(len(getattr(concept, p)) for p in "abc") + 1)
            blank = torch.full_like(candidates[:1], 1.0)
            rows = []
            for k, part in enumerate("abc"):
                picked = candidates[list(getattr(concept, part))]
                row = torch.cat([picked, *[blank] * (width - len(picked) - 1), mean_images[k : k + 1]])
                rows.append(row)
            rows.append(torch.cat([out, *[blank] * (width - len(out))]))
            figures[title] = (torch.cat(rows), width)
    return candidates, figures


def numbered_grid(images: torch.Tensor, path: Path, nrow: int) -> Path:
    """A grid with each image's index written in its corner (for choosing concepts by number)."""
    from PIL import Image, ImageDraw

    save_grid(images, path, nrow, pad_value=1.0)
    with Image.open(path) as im:
        grid = im.convert("RGB")
    h, w = images.shape[-2:]
    scale = max(1, 64 // max(h, w))  # small images are enlarged so that the numbers stay legible
    if scale > 1:
        grid = grid.resize((grid.width * scale, grid.height * scale), Image.NEAREST)
    draw = ImageDraw.Draw(grid)
    pad = 2
    for i in range(len(images)):
        r, c = divmod(i, nrow)
        x, y = (pad + c * (w + pad)) * scale, (pad + r * (h + pad)) * scale
        draw.rectangle([x, y, x + 14 + 6 * len(str(i)), y + 12], fill=(255, 255, 160))
        draw.text((x + 2, y), str(i), fill=(0, 0, 0))
    with atomic_write(path) as fh:
        grid.save(fh, format="png")
    return path


def arithmetic_section(doc: Document, root: Path, models: Mapping[str, RunParams], config: ReportConfig, figures: Path,
                       device: str) -> None:
    run = config.arithmetic_run
    if not run or run not in models:
        return
    doc.section("Vector arithmetic", "arithmetic",
                f"DCGAN's arithmetic on `{run}` (Radford et al. 2016, Figure 7): the codes of the candidates a "
                "concept names are averaged, and the generator draws mean A - mean B + mean C. Each figure: the "
                "rows A, B and C show the picked candidates with the image of their mean code last; the bottom "
                f"row is the result, then {config.arithmetic_variations - 1} draws with uniform noise of "
                f"+-{config.arithmetic_noise} added to its code. The concepts are picked by number in "
                "`report.arithmetic` (params.yaml) from the candidates below.")
    weights = RunDir.of(run, root / "data").generator
    if not weights.is_file():
        doc.note_missing(weights, f"{run}: no generator (`dvc repro train@{run}`)")
        return
    variant = load_generator(weights, device)
    candidates, rows = concept_arithmetic(variant, config)
    nrow = max(1, round(math.sqrt(len(candidates))))
    doc.lines += [f"Candidates (seed {config.seed}):", ""]
    doc.image(numbered_grid(candidates, figures / "candidates.png", nrow), "numbered candidates")
    for i, (title, (grid, width)) in enumerate(rows.items()):
        concept = config.arithmetic[title]
        doc.lines += [f"### {title}", "", f"A = {list(concept.a)}, B = {list(concept.b)}, C = {list(concept.c)}", ""]
        doc.image(save_grid(grid, figures / f"equation_{i}.png", width, pad_value=1.0), title)


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


# --------------------------------------------------------------------------- markdown -> html


def _relative(path: Path, base: Path) -> str:
    return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()


def _rebase_links(text: str, src: Path, dst: Path) -> str:
    """Relative link targets in Markdown from folder SRC rewritten to work from folder DST."""
    def fix(m: re.Match) -> str:
        target = m.group(2)
        if re.match(r"^[a-z]+:|^#|^/", target):
            return m.group(0)
        return f"{m.group(1)}({_relative(src / target, dst)})"

    return re.sub(r"(!?\[[^\]]*\])\(([^)\s]+)\)", fix, text)


MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml", ".gif": "image/gif"}


def inline_images(page: str, base: Path) -> str:
    """Every <img src> that is a relative path under BASE becomes a data URI; a file that is not
    there stops the build (the page would show a broken image)."""
    def embed(m: re.Match) -> str:
        src = html.unescape(m.group(2))
        if src.startswith("data:"):
            return m.group(0)
        path = base / src
        mime = MIME.get(path.suffix.lower())
        if mime is None:
            raise GanlabError(f"report: image {src!r} has a type the page cannot embed ({path.suffix})")
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise GanlabError(f"report: image {path} is linked but missing") from None
        return f'{m.group(1)}"data:{mime};base64,{base64.b64encode(data).decode()}"'

    return re.sub(r'(<img\b[^>]*?\bsrc=)"([^"]+)"', embed, page)


def render_html(text: str, base: Path, title: str) -> str:
    import markdown

    body = markdown.markdown(text, extensions=["tables", "fenced_code"], output_format="html")
    body = inline_images(body, base)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(title)}</title>\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<style>{STYLE}</style>\n</head>\n'
            f"<body>\n{body}\n</body>\n</html>\n")

