"""What only the report stage draws from the trained generators: latent interpolations and DCGAN's vector
arithmetic (Radford et al. 2016, Figure 7), each a section of the report's document."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ganlab.data.kinds import image_distribution
from ganlab.errors import GanlabError
from ganlab.files import atomic_write
from ganlab.images import save_grid
from ganlab.models import registry
from ganlab.report.config import ReportConfig
from ganlab.report.document import Document
from ganlab.report.samples import MODES, interpolation_grid
from ganlab.runs import RunDir, load_generator
from ganlab.train.config import RunParams


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
