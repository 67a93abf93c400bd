"""The ablation claims (ganlab.claims.ablations): the paper's model against the same network without its change,
by FID under the metrics' protocol."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from ganlab.catalogue import claim_items, read_catalogue
from ganlab.claims import ablations as A
from ganlab.claims import verdict as V
from ganlab.claims.config import ClaimsParams, StudyParams
from ganlab.claims.study import run_study, seed_dir
from ganlab.eval import metrics as M
from ganlab.eval.pipeline import write_reference_stage
from ganlab.models.sagan import SelfAttention
from ganlab.params import load_params
from ganlab.runs import build_variant
from ganlab.schema import from_dict
from ganlab.train.config import RunParams

ROOT = Path(__file__).resolve().parents[2]


def test_sagan_without_attention_is_the_same_networks_less_the_blocks():
    spec = {"shape": [1, 28, 28], "n_classes": 0}
    full, ablated = build_variant("sagan", {"width": 8}, spec), build_variant("sagan", {"width": 8, "attention": False},
                                                                             spec)
    blocks = [m for m in full.nets.modules() if isinstance(m, SelfAttention)]
    assert len(blocks) == 2 and not any(isinstance(m, SelfAttention) for m in ablated.nets.modules())
    inside = sum(p.numel() for m in blocks for p in m.parameters())
    assert sum(p.numel() for p in full.nets.parameters()) - inside == sum(p.numel() for p in ablated.nets.parameters())
    z = ablated.noise(3, torch.Generator().manual_seed(0))
    assert ablated.sample(z).shape == (3, 1, 28, 28)


@pytest.fixture(scope="module")
def reference(mnist_root):
    p = load_params(ROOT / "params.yaml")
    write_reference_stage(p.metrics, p.dedup, "mnist", mnist_root, mnist_root / "references" / "mnist")
    return mnist_root / "references" / "mnist"


def test_sample_quality_is_the_metrics_of_the_generators_samples(mnist_root, reference, tmp_path):
    from ganlab.runs import export_generator

    v = build_variant("sagan", {"width": 8}, {"shape": [1, 28, 28], "n_classes": 0})
    path = export_generator(v, tmp_path / "generator.pt", step=0, channels_last=False)
    scores, images = A.sample_quality(path, reference, n_fake=30, n_real=20)
    again, _ = A.sample_quality(path, reference, n_fake=30, n_real=20)
    assert images.shape == (30, 1, 28, 28) and images.dtype == torch.uint8 and scores == again
    real = M.load_features(reference / "train.npz")
    assert scores["fid"] > 0 and scores["is_mean"] >= 1 and 0 <= scores["recall"] <= 1 and len(real) == 40


def test_the_sagan_claim_runs_end_to_end_on_a_tiny_study(mnist_root, reference, tmp_path, monkeypatch):
    monkeypatch.setattr(A, "N_FAKE", 30)
    monkeypatch.setattr(A, "N_REAL", 20)

    def run(attention: bool) -> RunParams:
        return from_dict(RunParams, {"variant": "sagan", "data": "mnist", "model": {"width": 8, "attention": attention},
                                     "train": {"steps": 2, "batch_size": 8, "sample_every": 2, "checkpoint_every": 2,
                                               "log_every": 1, "n_samples": 4}}, "models.r")
    claims = ClaimsParams(seeds=(0, 1), workers=1, studies={A.SAGAN_STUDY: StudyParams(
        runs={A.SAGAN_RUNS[0]: run(True), A.SAGAN_RUNS[1]: run(False)})})
    study = mnist_root / "studies" / A.SAGAN_STUDY
    run_study(claims, A.SAGAN_STUDY, mnist_root, study)
    V.write_claim(claims, "sagan-attention", mnist_root, tmp_path / "claims")
    saved = json.loads((tmp_path / "claims" / "sagan-attention.json").read_text())
    fid = saved["values"]["fid"]
    assert set(fid) == set(A.SAGAN_RUNS) and all(set(v) == {"0", "1"} for v in fid.values())
    expected, _ = A.sample_quality(seed_dir(study, "sagan", 1).generator, reference, 30, 20)
    assert fid["sagan"]["1"] == pytest.approx(expected["fid"])  # each seed's own generator, measured as above
    d = [fid["sagan"][s] - fid["sagan-no-attention"][s] for s in ("0", "1")]
    verdict = "reproduced" if all(x < 0 for x in d) else "not reproduced" if sum(d) >= 0 else "inconclusive"
    assert saved["verdict"] == verdict and saved["published"][0]["value"] == "18.28"
    assert (tmp_path / "claims" / "sagan-attention.png").stat().st_size > 5000


@pytest.mark.parametrize(("cid", "study", "runs", "default_run", "ablated"), [
    ("sagan-attention", A.SAGAN_STUDY, A.SAGAN_RUNS, "sagan", {"attention": False}),
    ("ebgan-pulling-away", A.EBGAN_STUDY, A.EBGAN_RUNS, "ebgan", {"pt_weight": 0.0}),
])
def test_each_ablation_study_trains_the_default_run_and_its_ablation_and_reads_the_reference(cid, study, runs,
                                                                                           default_run, ablated):
    text = (ROOT / "params.yaml").read_text()
    raw = yaml.safe_load(text)
    default = raw["models"][default_run]
    for run, extra in zip(runs, ({}, ablated)):
        mine = raw["claims"]["studies"][study]["runs"][run]
        assert (mine["variant"], mine["data"], mine["model"]) == (default["variant"], default["data"],
                                                                  {**default["model"], **extra})
        assert (mine["train"]["steps"], mine["train"]["batch_size"]) == (default["train"]["steps"],
                                                                         default["train"]["batch_size"])
    metrics = raw["metrics"]
    assert (A.N_FAKE, A.N_REAL, A.SEED) == (metrics["n_fake"], metrics["n_real"], metrics["seed"])
    items = [i for i in claim_items(read_catalogue(text)) if i.startswith(f"{cid}:")]
    assert items == [f"{cid}: {{needs: data/studies/{study}, reads: data/references/mnist, "
                     f"params: claims.studies.{study}}}"]
