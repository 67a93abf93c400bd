"""Stage evaluator@<dataset>: dvc repro in a scratch project on a tiny labelled dataset."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml
from helpers import bars, run_in, scratch_project

from ganlab.errors import GanlabError


@pytest.fixture
def project(tmp_path: Path) -> Path:
    from ganlab.data.datasets import write_content
    from ganlab.data.formats import ImageData, ImageSplit

    dst = scratch_project(tmp_path / "project", ["evaluator"])
    splits = {name: ImageSplit(*bars(n, seed)) for name, n, seed in (("train", 256, 0), ("test", 64, 1))}
    (dst / "data" / "mnist").mkdir(parents=True)
    info = write_content(ImageData(splits, ["left", "right"]), dst / "data" / "mnist")
    (dst / "data" / "mnist" / "dataset.json").write_text(json.dumps({"name": "mnist", **info}))
    params = {"evaluators": {"mnist": {"width": 4, "features": 8, "epochs": 3, "batch_size": 32, "augment": "none"}}}
    (dst / "params.yaml").write_text(yaml.safe_dump(params))
    run_in(["git", "add", "-A"], dst)
    run_in(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "scratch"], dst)
    return dst


def test_repro_trains_the_evaluator_reports_its_accuracy_and_then_does_nothing(project):
    from ganlab.eval.evaluator import load_evaluator

    out = run_in(["dvc", "repro"], project, OMP_NUM_THREADS="1")
    assert "Running stage 'evaluator@mnist'" in out
    report = json.loads((project / "reports" / "evaluators" / "mnist.json").read_text())
    assert report["test_accuracy"] > 0.9 and report["n_train"] == 256 and report["n_test"] == 64
    weights = project / "data" / "evaluators" / "mnist" / "evaluator.pt"
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == report["weights_sha256"]
    evaluator = load_evaluator(weights)
    assert evaluator.class_names == ["left", "right"] and evaluator.info["test_accuracy"] == report["test_accuracy"]
    assert "test_accuracy" in run_in(["dvc", "metrics", "show", "--json"], project)
    assert "Running stage" not in run_in(["dvc", "repro"], project)


def test_stage_names_a_dataset_without_an_evaluator(tmp_path):
    from ganlab.eval.evaluator import write_evaluator_stage
    from ganlab.params import load_params

    (tmp_path / "params.yaml").write_text("evaluators:\n  mnist: {epochs: 1}\n")
    with pytest.raises(GanlabError, match=r"unknown key 'evaluators\.fashion-mnsit'; allowed here: mnist"):
        write_evaluator_stage(load_params(tmp_path / "params.yaml").evaluators, "fashion-mnsit", tmp_path, tmp_path / "o",
                              tmp_path / "r.json")
