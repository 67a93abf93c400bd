"""The no-batch-norm claims (ganlab.claims.architectures): LSGAN, WGAN and WGAN-GP clear the failure floors with a
generator the regular GAN fails on."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from ganlab.catalogue import claim_items, read_catalogue
from ganlab.claims import ablations as A
from ganlab.claims import architectures as N
from ganlab.claims import verdict as V
from ganlab.claims.config import ClaimsParams, StudyParams
from ganlab.claims.study import run_study, seed_dir
from ganlab.eval import floors
from ganlab.eval.pipeline import real_baseline, write_reference_stage
from ganlab.params import load_params
from ganlab.schema import from_dict
from ganlab.train.config import RunParams

ROOT = Path(__file__).resolve().parents[2]
CLAIMS = {"lsgan-no-batchnorm": "lsgan", "wgan-no-batchnorm": "wgan", "wgan-gp-no-batchnorm": "wgan_gp"}


def test_floor_share_is_the_lesser_share_of_the_way_from_the_better_failure_to_the_real_images():
    real = {"is_mean": 9.0, "recall": 0.9}
    failures = {"one-image": {"is_mean": 1.0, "recall": 0.0}, "noise": {"is_mean": 1.1, "recall": 0.0}}
    assert N.floor_share({"is_mean": 2.0, "recall": 0.2}, real, failures) == pytest.approx(0.9 / 7.9)
    assert N.floor_share({"is_mean": 9.0, "recall": 0.09}, real, failures) == pytest.approx(0.1)
    # the same line as the metrics table's floors column
    for run in ({"is_mean": 2.0, "recall": 0.2}, {"is_mean": 1.5, "recall": 0.5}):
        clear = floors.judge(run, real, failures)["verdict"] == "clear"
        assert clear == (N.floor_share(run, real, failures) >= floors.SHARE)
    # a measure the failures score as well as the real images is not judged; none judged: no share
    assert N.floor_share({"is_mean": 2.0, "recall": 0.45}, {"is_mean": 1.0, "recall": 0.9}, failures) == 0.5
    assert math.isnan(N.floor_share({"is_mean": 2.0}, {"is_mean": 1.0}, failures))


@pytest.fixture(scope="module")
def reference(mnist_root):
    p = load_params(ROOT / "params.yaml")
    write_reference_stage(p.metrics, p.dedup, "mnist", mnist_root, mnist_root / "references" / "mnist")
    return mnist_root / "references" / "mnist"


def test_the_claims_floors_are_the_metrics_tables(reference):
    from ganlab.eval.extractors import get_extractor
    from ganlab.eval.pipeline import load_reference

    metrics = load_params(ROOT / "params.yaml").metrics
    _, ref = load_reference(reference, "train")
    table = real_baseline(metrics, reference, get_extractor(ref["extractor_kind"], ref["extractor_weights_path"]),
                          (28, 28, 1))
    mine = N.real_and_floors(reference, (28, 28, 1))
    for key in ("is_mean", "recall", "fid", "precision"):
        assert mine[key] == table[key]
        for failure in floors.FAILURES:
            assert mine["floors"][failure][key] == table["floors"][failure][key]


def test_a_no_batchnorm_claim_runs_end_to_end_on_a_tiny_study(mnist_root, reference, tmp_path, monkeypatch):
    monkeypatch.setattr(N, "N_FAKE", 30)
    monkeypatch.setattr(N, "N_REAL", 20)

    def run(variant: str) -> RunParams:
        return from_dict(RunParams, {"variant": variant, "data": "mnist", "model": {"width": 8, "g_norm": "none"},
                                     "train": {"steps": 2, "batch_size": 8, "sample_every": 2, "checkpoint_every": 2,
                                               "log_every": 1, "n_samples": 4}}, "models.r")
    claims = ClaimsParams(seeds=(0, 1), workers=1, studies={N.STUDY: StudyParams(
        runs={"gan": run("dcgan"), "lsgan": run("lsgan")})})
    study = mnist_root / "studies" / N.STUDY
    run_study(claims, N.STUDY, mnist_root, study)
    V.write_claim(claims, "lsgan-no-batchnorm", mnist_root, tmp_path / "claims")
    saved = json.loads((tmp_path / "claims" / "lsgan-no-batchnorm.json").read_text())
    share = saved["values"]["floor_share"]
    assert set(share) == {"lsgan", "gan"} and all(set(v) == {"0", "1"} for v in share.values())
    baseline = N.real_and_floors(reference, (28, 28, 1))
    scores, _ = A.sample_quality(seed_dir(study, "gan", 1).generator, reference, 30, 20)
    assert share["gan"]["1"] == pytest.approx(N.floor_share(scores, baseline, baseline["floors"]))
    assert saved["values"]["recall"]["gan"]["1"] == pytest.approx(scores["recall"])
    clears = all(share["lsgan"][s] >= floors.SHARE for s in ("0", "1"))
    gan_fails = all(share["gan"][s] <= floors.SHARE for s in ("0", "1"))
    assert (saved["verdict"] == "reproduced") == (clears and gan_fails)
    assert saved["protocol"]["floors"]["real"]["recall"] == pytest.approx(baseline["recall"])
    assert (tmp_path / "claims" / "lsgan-no-batchnorm.png").stat().st_size > 5000


@pytest.mark.parametrize(("cid", "run"), CLAIMS.items())
def test_each_claim_judges_its_loss_and_the_regular_gan_by_the_floors_rule(cid, run):
    c = V.get(cid)
    assert c.study == N.STUDY and set(c.runs) == {run, "gan"} and c.reads_reference
    parts = {(p.a, p.rule.above, p.rule.bound) for p in c.parts}
    assert parts == {(run, True, floors.SHARE), ("gan", False, floors.SHARE)}
    assert all(p.measure == "floor_share" for p in c.parts)


def test_the_study_is_the_default_runs_with_no_batch_norm_in_the_generator():
    text = (ROOT / "params.yaml").read_text()
    raw = yaml.safe_load(text)
    study = raw["claims"]["studies"][N.STUDY]
    assert set(study["runs"]) == {"gan", *CLAIMS.values()}
    for run, default_run in {"gan": "dcgan", **{r: r for r in CLAIMS.values()}}.items():
        mine, default = study["runs"][run], raw["models"][default_run]
        assert (mine["variant"], mine["data"], mine["model"]) == (default["variant"], default["data"],
                                                                  {**default["model"], "g_norm": "none"})
        assert (mine["train"]["steps"], mine["train"]["batch_size"]) == (default["train"]["steps"],
                                                                         default["train"]["batch_size"])
    for cid in CLAIMS:
        items = [i for i in claim_items(read_catalogue(text)) if i.startswith(f"{cid}:")]
        assert items == [f"{cid}: {{needs: data/studies/{N.STUDY}, reads: data/references/mnist, "
                         f"params: claims.studies.{N.STUDY}}}"]
