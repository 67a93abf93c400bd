"""InfoGAN's claim: the categorical code matched to the evaluator's classes, the continuous codes to slant and width."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from ganlab.catalogue import claim_items, read_catalogue
from ganlab.claims import infogan as I
from ganlab.claims import verdict as V
from ganlab.claims.config import ClaimsParams, StudyParams
from ganlab.claims.study import run_study
from ganlab.errors import GanlabError
from ganlab.eval import metrics as M
from ganlab.eval.extractors import get_extractor
from ganlab.runs import build_variant, export_generator
from ganlab.schema import from_dict
from ganlab.train.config import RunParams

ROOT = Path(__file__).resolve().parents[2]
SPEC = {"shape": [1, 28, 28], "n_classes": 10}


@pytest.fixture
def generator(tmp_path):
    return export_generator(build_variant("infogan", {"width": 4}, SPEC), tmp_path / "generator.pt", step=0,
                            channels_last=False)


def test_best_match_keeps_the_most_under_a_one_to_one_map():
    counts = np.array([[0, 9, 1], [8, 0, 2], [5, 0, 5]])  # each row its own best column
    match, share = I.best_match(counts)
    assert match.tolist() == [1, 0, 2] and share == pytest.approx((9 + 8 + 5) / counts.sum())
    match, share = I.best_match(np.array([[6, 5], [6, 0]]))  # both rows prefer column 0; greedy by row keeps 6, the match 11
    assert match.tolist() == [1, 0] and share == pytest.approx(11 / 17)


def _line(h: int, w: int, lean: float, half_width: int = 0) -> np.ndarray:
    """A stroke down the image whose centre moves ``lean`` pixels right per row, 2 * half_width + 1 pixels wide."""
    img = np.zeros((h, w), dtype=np.uint8)
    for y in range(h):
        x = int(round(w / 2 + lean * (y - h / 2)))
        img[y, max(x - half_width, 0) : x + half_width + 1] = 255
    return img


def test_ink_moments_read_the_lean_and_the_spread_of_a_stroke():
    images = torch.from_numpy(np.stack([_line(28, 28, 0.0), _line(28, 28, 0.3), _line(28, 28, -0.3),
                                        _line(28, 28, 0.0, half_width=4)]))[:, None]
    got = I.ink_moments(images)
    assert got["slant"][0] == pytest.approx(0.0, abs=1e-9)
    assert got["slant"][1] == pytest.approx(0.3, abs=0.03) and got["slant"][2] == pytest.approx(-0.3, abs=0.03)
    assert got["width"][0] == pytest.approx(0.0, abs=1e-9)
    assert got["width"][3] == pytest.approx(np.sqrt(np.mean(np.arange(-4, 5) ** 2)))  # 9 columns: std sqrt(20/3)


def test_continuous_codes_find_which_code_moves_which_property(generator, monkeypatch):
    # a stand-in generator: code 0 sets the stroke's width, code 1 its lean, plus a little per-row noise
    def draw(variant, latent):
        _, cont = variant.split(latent)
        rng = np.random.default_rng(0)
        out = [_line(28, 28, 0.4 * float(c1) + rng.normal(0, 0.01), half_width=int(round(3 + 2.4 * float(c0))))
               for c0, c1 in cont.tolist()]
        return torch.from_numpy(np.stack(out))[:, None]

    monkeypatch.setattr(I, "_draw", draw)
    got = I.continuous_codes(generator, seed=0, rows=20, points=5)
    assert got["code_of"] == {"slant": 1, "width": 0}
    assert got["slant"] > 0.95 and got["width"] > 0.95
    assert abs(got["rho"][0, 0]) < 0.5 and abs(got["rho"][1, 1]) < 0.5  # neither code moves the other property


def test_code_finds_class_matches_code_values_to_classes_without_their_labels(mnist_root, generator, monkeypatch):
    extractor = get_extractor("evaluator", mnist_root / "evaluators" / "mnist" / "evaluator.pt")
    read_as = (np.arange(40) % 10 + 3) % 10  # code value k is read as class k + 3: a perfect code, other names
    read_as[[0, 11]] = 7  # two samples (code values 0 and 1) read as another class

    def fake_features(images, ex, batch_size):
        logits = np.eye(10, dtype=np.float32)[read_as]
        return M.Features({"logits": logits, "features": logits}, ex.protocol())

    monkeypatch.setattr(M, "extract_features", fake_features)
    got = I.code_finds_class(generator, extractor, seed=0, n=40)
    assert got["match"].tolist() == [(k + 3) % 10 for k in range(10)]
    assert got["accuracy"] == pytest.approx(38 / 40)
    assert got["counts"].sum() == 40 and got["images"].shape == (40, 1, 28, 28)


def test_a_generator_without_a_categorical_code_is_refused(mnist_root, tmp_path):
    plain = export_generator(build_variant("dcgan", {"width": 4}, SPEC), tmp_path / "generator.pt", step=0,
                             channels_last=False)
    extractor = get_extractor("evaluator", mnist_root / "evaluators" / "mnist" / "evaluator.pt")
    with pytest.raises(GanlabError, match="no categorical code"):
        I.code_finds_class(plain, extractor, seed=0, n=20)


def test_the_claim_runs_end_to_end_on_a_tiny_study(mnist_root, tmp_path):
    run = from_dict(RunParams, {"variant": "infogan", "data": "mnist", "model": {"width": 4},
                                "train": {"steps": 2, "batch_size": 8, "sample_every": 2, "checkpoint_every": 2,
                                          "log_every": 1, "n_samples": 20}}, "models.r")
    claims = ClaimsParams(seeds=(0, 1), workers=1, studies={I.STUDY: StudyParams(runs={I.RUN: run})})
    run_study(claims, I.STUDY, mnist_root, mnist_root / "studies" / I.STUDY)
    V.write_claim(claims, "infogan-codes", mnist_root, tmp_path / "claims")
    saved = json.loads((tmp_path / "claims" / "infogan-codes.json").read_text())
    assert set(saved["values"]) == {"code_class", "slant", "width"}
    assert all(set(v[I.RUN]) == {"0", "1"} for v in saved["values"].values())
    assert all(0 <= x <= 1 for v in saved["values"].values() for x in v[I.RUN].values())
    # two steps from random weights, read by a random evaluator: no code means a class
    assert saved["verdict"] == "not reproduced" and saved["parts"][0]["verdict"] == "not reproduced"
    assert saved["published"][0]["value"] == "5%"
    assert (tmp_path / "claims" / "infogan-codes.png").stat().st_size > 5000


def test_the_default_study_trains_the_default_run_and_its_stage_reads_the_evaluator():
    text = (ROOT / "params.yaml").read_text()
    raw = yaml.safe_load(text)
    mine, default = raw["claims"]["studies"][I.STUDY]["runs"][I.RUN], raw["models"][I.RUN]
    assert (mine["variant"], mine["data"], mine["model"]) == (default["variant"], default["data"], default["model"])
    assert (mine["train"]["steps"], mine["train"]["batch_size"]) == (default["train"]["steps"],
                                                                     default["train"]["batch_size"])
    items = [i for i in claim_items(read_catalogue(text)) if i.startswith("infogan-codes:")]
    assert items == ["infogan-codes: {needs: data/studies/infogan, reads: data/evaluators/mnist, "
                     "params: claims.studies.infogan}"]
