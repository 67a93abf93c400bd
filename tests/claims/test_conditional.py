"""The conditional GANs' claim: each sample's class as the evaluator reads it against the class it was drawn for."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from ganlab.catalogue import claim_items, read_catalogue
from ganlab.claims import conditional as C
from ganlab.claims import verdict as V
from ganlab.claims.config import ClaimsParams, StudyParams
from ganlab.claims.study import run_study
from ganlab.errors import GanlabError
from ganlab.eval import metrics as M
from ganlab.eval import pipeline
from ganlab.eval.extractors import get_extractor
from ganlab.runs import build_variant, export_generator
from ganlab.schema import from_dict
from ganlab.train.config import RunParams

ROOT = Path(__file__).resolve().parents[2]
CLASSES = [str(k) for k in range(10)]
TRAIN = {"steps": 2, "batch_size": 8, "sample_every": 2, "checkpoint_every": 2, "log_every": 1, "n_samples": 20}


def _run(variant, **model):
    return from_dict(RunParams, {"variant": variant, "data": "mnist", "model": model, "train": TRAIN}, "models.r")


def test_follows_label_counts_the_samples_read_as_the_class_asked_for(mnist_root, tmp_path, monkeypatch):
    generator = export_generator(build_variant("cgan", {"hidden": 8}, {"shape": [1, 28, 28], "n_classes": 10}),
                                 tmp_path / "generator.pt", step=0, channels_last=False)
    extractor = get_extractor("evaluator", mnist_root / "evaluators" / "mnist" / "evaluator.pt")
    requested = torch.arange(40) % 10
    read_as = requested.clone()
    read_as[[0, 11, 22, 13]] = 9  # four samples read as a 9: of classes 0, 1, 2 and 3 (each has four samples)

    def fake_generate(variant, n, seed, batch_size):
        assert n == 40
        return torch.zeros(n, 1, 28, 28, dtype=torch.uint8), requested

    def fake_features(images, ex, batch_size):
        logits = np.eye(10, dtype=np.float32)[read_as.numpy()]
        return M.Features({"logits": logits, "features": logits}, ex.protocol())

    monkeypatch.setattr(pipeline, "generate", fake_generate)
    monkeypatch.setattr(M, "extract_features", fake_features)
    got = C.follows_label(generator, extractor, seed=0, n=40)
    assert got["accuracy"] == pytest.approx(36 / 40)
    assert got["per_class"] == {**dict.fromkeys(CLASSES, 1.0), "0": 0.75, "1": 0.75, "2": 0.75, "3": 0.75}
    assert got["chance"] == 0.1


def test_the_claim_runs_end_to_end_on_a_tiny_study(mnist_root, tmp_path):
    claims = ClaimsParams(seeds=(0, 1), workers=1, studies={
        C.STUDY: StudyParams(runs={"cgan": _run("cgan", hidden=8), "acgan": _run("acgan", width=4)})})
    run_study(claims, C.STUDY, mnist_root, mnist_root / "studies" / C.STUDY)
    result = V.write_claim(claims, "conditional-follows-label", mnist_root, tmp_path / "claims")
    saved = json.loads((tmp_path / "claims" / "conditional-follows-label.json").read_text())
    assert saved["verdict"] == result["verdict"]
    values = saved["values"]["follows_label"]
    assert set(values) == {"cgan", "acgan"} and all(set(v) == {"0", "1"} for v in values.values())
    assert all(0 <= x <= 1 for v in values.values() for x in v.values())
    # two steps from random weights, read by a random evaluator: nowhere near nine in ten
    assert saved["verdict"] == "not reproduced"
    assert (tmp_path / "claims" / "conditional-follows-label.png").stat().st_size > 5000


def test_a_generator_that_is_not_conditional_is_refused(mnist_root, tmp_path):
    generator = export_generator(build_variant("gan", {"hidden": 8}, {"shape": [1, 28, 28], "n_classes": 0}),
                                 tmp_path / "generator.pt", step=0, channels_last=False)
    extractor = get_extractor("evaluator", mnist_root / "evaluators" / "mnist" / "evaluator.pt")
    with pytest.raises(GanlabError, match="not class-conditional"):
        C.follows_label(generator, extractor, seed=0, n=20)


def test_the_default_study_trains_the_default_runs_and_its_stage_reads_the_evaluator():
    text = (ROOT / "params.yaml").read_text()
    raw = yaml.safe_load(text)
    study = raw["claims"]["studies"][C.STUDY]["runs"]
    for run in C.RUNS:  # the study's seeds of the runs the report shows: the same networks and schedule
        mine, default = study[run], raw["models"][run]
        assert (mine["variant"], mine["data"], mine["model"]) == (default["variant"], default["data"], default["model"])
        assert (mine["train"]["steps"], mine["train"]["batch_size"]) == (default["train"]["steps"],
                                                                         default["train"]["batch_size"])
    items = [i for i in claim_items(read_catalogue(text)) if i.startswith("conditional-follows-label:")]
    assert items == ["conditional-follows-label: {needs: data/studies/conditional, reads: data/evaluators/mnist, "
                     "params: claims.studies.conditional}"]
