"""The report stage's page (ganlab.report.page) on a small project built here, and the page in Chromium."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
import yaml
from PIL import Image

from ganlab.errors import GanlabError
from ganlab.models import registry
from ganlab.models.base import DataSpec
from ganlab.params import load_params
from ganlab.report import browser, document, latents, page
from ganlab.report.config import ConceptSum, ReportConfig
from ganlab.runs import load_generator
from ganlab.train.trainer import TrainConfig, Trainer

PARAMS = {
    "models": {
        "gan": {"variant": "gan", "data": "mnist", "model": {"hidden": 8}, "train": {"steps": 4}},
        "cgan": {"variant": "cgan", "data": "mnist", "model": {"hidden": 8}, "train": {"steps": 4}},
        "lsgan": {"variant": "lsgan", "data": "mnist", "train": {"steps": 4}},  # never trained here
    },
    "report": {"interpolation_rows": 2, "interpolation_steps": 3, "arithmetic_run": "gan",
               "arithmetic_candidates": 9, "arithmetic_variations": 4,
               "arithmetic": {"one - two + three": {"a": [0, 1, 2], "b": [3, 4], "c": [5]}}},
}


def train(out: Path, variant: str, n_classes: int = 0) -> None:
    cls = registry.get(variant)
    torch.manual_seed(0)
    v = cls(cls.Config(hidden=8), DataSpec((1, 8, 8), n_classes), torch.device("cpu"))
    x = torch.rand(32, 1, 8, 8) * 2 - 1
    y = torch.arange(32) % n_classes if n_classes else None
    Trainer(v, x, y, TrainConfig(steps=4, batch_size=8, n_samples=4, sample_every=2, checkpoint_every=2, log_every=1,
                                 dvclive=True), out).fit(progress=False)


def png(path: Path, size: tuple[int, int] = (12, 10)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (200, 30, 30)).save(path)
    return path


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    (root / "params.yaml").write_text(yaml.safe_dump(PARAMS))
    train(root / "data" / "models" / "gan", "gan")
    train(root / "data" / "models" / "cgan", "cgan", n_classes=2)
    reports = root / "reports"
    (reports / "metrics" / "runs").mkdir(parents=True)
    (reports / "metrics" / "runs" / "gan.json").write_text(json.dumps({"fid": 12.345, "is_mean": 2.5}))
    (reports / "metrics" / "README.md").write_text("# Sample-quality metrics\n\n| run | FID |\n|---|---|\n| gan | 12.3 |\n")
    png(reports / "metrics" / "nearest" / "gan.png")
    (reports / "transfer").mkdir()
    (reports / "transfer" / "README.md").write_text("# Transfer\n\n![svm curve](curve.png)\n\n[raw](metrics.json)\n")
    png(reports / "transfer" / "curve.png")
    (reports / "dedup").mkdir()
    (reports / "dedup" / "metrics.json").write_text(json.dumps({"n_in": 10, "n_out": 8, "removed": 2}))
    png(reports / "dedup" / "gallery.png")
    (reports / "evaluators").mkdir()
    (reports / "evaluators" / "mnist.json").write_text(json.dumps({"dataset": "mnist", "test_accuracy": 0.9912}))
    return root


@pytest.fixture(scope="module")
def built(project: Path) -> dict:
    p = load_params(project / "params.yaml")
    return page.build(p.models, p.report, project, project / "reports")


def test_the_page_has_every_section_that_has_inputs_and_names_what_is_missing(project: Path, built: dict) -> None:
    # Claims first, present even with no claim measured yet: it says so, and names what is missing
    assert built["sections"] == ["Claims", "Samples", "Training curves", "Metrics", "Transfer test (DCGAN, section 5.1)",
                                 "Latent interpolations", "Vector arithmetic", "Face curation", "Evaluator networks"]
    text = (project / "reports" / "README.md").read_text()
    assert "dvc repro train@lsgan" in text and any(m.endswith("lsgan/samples") for m in built["missing"])
    assert "No claim has been measured yet" in text and any(m.endswith("reports/claims") for m in built["missing"])
    assert "FID 12.35, IS 2.50" in text  # the headline next to the gan samples
    assert "| mnist | 99.12% |" in text
    assert "### Sample-quality metrics" in text  # the sub-report's title, demoted under its section
    # every image link of the Markdown resolves from reports/, the transfer figure's link rebased to it
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert links and all((project / "reports" / link).is_file() for link in links)
    assert "(transfer/curve.png)" in text and "(transfer/metrics.json)" in text
    assert len(links) == built["images"]


def test_index_html_is_self_contained(project: Path, built: dict) -> None:
    html = (project / "reports" / "index.html").read_text()
    sources = re.findall(r'<img\b[^>]*\bsrc="([^"]+)"', html)
    assert len(sources) == built["images"]
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert "<link" not in html and "<script" not in html  # no file beside it is needed


def test_interpolations_are_drawn_for_unconditional_generators_only(project: Path, built: dict) -> None:
    figures = project / "reports" / "figures" / "interpolation"
    assert sorted(p.name for p in figures.iterdir()) == ["gan_lerp.png", "gan_slerp.png"]
    with Image.open(figures / "gan_slerp.png") as im:
        assert im.size == (2 + 3 * 10, 2 + 2 * 10)  # 3 steps x 2 walks of 8 px images
    assert sorted(p.name for p in (project / "reports" / "figures" / "curves").iterdir()) == ["cgan.png", "gan.png"]


def test_vector_arithmetic_draws_mean_a_minus_mean_b_plus_mean_c(project: Path) -> None:
    variant = load_generator(project / "data" / "models" / "gan" / "generator.pt")
    config = ReportConfig(seed=3, arithmetic_candidates=6, arithmetic_variations=3, arithmetic_noise=0.5,
                          arithmetic={"x": ConceptSum(a=(0, 1), b=(2,), c=(3, 4, 5))})
    candidates, figures = latents.concept_arithmetic(variant, config)
    grid, width = figures["x"]
    assert width == 4 and grid.shape == (4 * 4, 1, 8, 8)  # rows a, b, c and the result, 4 wide
    g = torch.Generator().manual_seed(3)
    z = variant.noise(6, generator=g)
    with torch.no_grad():
        assert torch.allclose(candidates, variant.sample(z), atol=1e-6)
        mean_a, mean_b, mean_c = z[[0, 1]].mean(0), z[[2]].mean(0), z[[3, 4, 5]].mean(0)
        assert torch.allclose(grid[0:2], candidates[[0, 1]]) and torch.allclose(grid[3], variant.sample(mean_a[None])[0],
                                                                                  atol=1e-6)
        assert torch.allclose(grid[12], variant.sample((mean_a - mean_b + mean_c)[None])[0], atol=1e-6)
    assert not torch.allclose(grid[13], grid[12])  # the noisy variations differ from the result itself
    assert torch.all(grid[2] == 1.0)  # padding in a short row is white


def test_candidates_are_numbered_and_small_images_enlarged(tmp_path: Path) -> None:
    images = torch.zeros(4, 1, 8, 8)
    path = latents.numbered_grid(images, tmp_path / "c.png", nrow=2)
    with Image.open(path) as im:
        assert im.size == ((2 + 2 * 10) * 8, (2 + 2 * 10) * 8)
        assert (255, 255, 160) in {im.getpixel((x, y)) for x in range(16, 40) for y in range(16, 28)}  # a label


def test_latest_figures_takes_the_last_step_of_each_kind(tmp_path: Path) -> None:
    for name in ("step_0000010.png", "step_0000100.png", "reconstruction_step_0000100.png",
                 "reconstruction_step_0000050.png", "latent.png"):
        png(tmp_path / name)
    found = page.latest_figures(tmp_path)
    assert list(found) == ["", "latent", "reconstruction"]
    assert found[""].name == "step_0000100.png" and found["reconstruction"].name == "reconstruction_step_0000100.png"


def test_bad_inputs_are_named(tmp_path: Path) -> None:
    series = tmp_path / "dvclive" / "plots" / "metrics" / "train"
    series.mkdir(parents=True)
    (series / "loss_d.tsv").write_text("step\tloss_d\n1\tnot-a-number\n")
    with pytest.raises(GanlabError, match=r"loss_d\.tsv: not a dvclive series"):
        page.read_series(tmp_path / "dvclive")
    with pytest.raises(GanlabError, match=r"gone\.png is linked but missing"):
        document.inline_images('<p><img alt="x" src="gone.png"></p>', tmp_path)


@pytest.mark.skipif(browser.find_chromium() is None, reason="no Chromium (Debian package chromium)")
def test_every_image_on_the_page_loads_in_chromium(project: Path, built: dict, tmp_path: Path) -> None:
    index = project / "reports" / "index.html"
    n, broken = browser.broken_images(index)
    assert (n, broken) == (built["images"], [])
    spoilt = tmp_path / "spoilt.html"  # the check can fail: one image's bytes cut short
    text = index.read_text()
    start = text.index("base64,") + len("base64,")
    spoilt.write_text(text[:start] + "AAAA" + text[start + 200:])
    n, broken = browser.broken_images(spoilt)
    assert n == built["images"] and len(broken) == 1
