"""The over-training claims (ganlab.claims.curves): a loss's own number against FID over checkpoints, and BEGAN's
gamma."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.stats import spearmanr

from ganlab.claims import ablations as A
from ganlab.claims import curves as C
from ganlab.claims import verdict as V
from ganlab.claims.config import ClaimsParams, StudyParams
from ganlab.claims.study import run_study, seed_dir
from ganlab.errors import GanlabError
from ganlab.eval.pipeline import write_reference_stage
from ganlab.params import load_params
from ganlab.schema import from_dict
from ganlab.train.config import RunParams

ROOT = Path(__file__).resolve().parents[2]


def test_spearman_is_scipys_rank_correlation_with_ties_averaged():
    rng = np.random.default_rng(0)
    for _ in range(5):
        a, b = rng.normal(size=9), rng.integers(0, 4, size=9).astype(float)  # b with ties
        assert C.spearman(list(a), list(b)) == pytest.approx(spearmanr(a, b).statistic)
    assert C.spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert C.spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert np.isnan(C.spearman([1, 2, 3], [5, 5, 5]))
    with pytest.raises(GanlabError, match="same length"):
        C.spearman([1, 2], [1, 2, 3])


def test_the_bound_is_the_one_sided_five_percent_critical_value_for_the_studies_checkpoints():
    n = C.CHECKPOINTS
    ranks = np.arange(n)
    rhos = np.array([1 - 6 * ((ranks - np.array(p)) ** 2).sum() / (n * (n * n - 1))
                     for p in itertools.permutations(range(n))])
    assert (rhos >= C.RHO).mean() <= 0.05  # reached by unrelated series less than one time in twenty
    below = rhos[rhos < C.RHO].max()  # the next value rho can take
    assert (rhos >= below).mean() > 0.05


def test_window_means_average_the_rows_since_the_checkpoint_before():
    history = [{"step": s, "w": float(s)} for s in range(10, 101, 10)] + [{"step": 100, "other": 1.0}]
    assert C.window_means(history, "w", [50, 100]) == [30.0, 80.0]
    with pytest.raises(GanlabError, match="no logged w between step 100 and 150"):
        C.window_means(history, "w", [50, 100, 150])


@pytest.mark.parametrize(("study", "run"), [(C.CRITICS, "wgan"), (C.BEGAN_STUDY, "began")])
def test_the_studies_keep_a_generator_at_each_of_the_checkpoints_the_bound_is_for(study, run):
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    train = raw["claims"]["studies"][study]["runs"][run]["train"]
    assert train["keep_generators"] is True
    assert train["steps"] // train["checkpoint_every"] == C.CHECKPOINTS and train["steps"] % train["checkpoint_every"] == 0
    assert train["checkpoint_every"] % train["log_every"] == 0 and train["log_every"] < train["checkpoint_every"]


def test_the_began_study_is_models_began_and_the_same_at_a_lower_gamma():
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    default = raw["models"]["began"]
    runs = raw["claims"]["studies"][C.BEGAN_STUDY]["runs"]
    assert set(runs) == set(C.BEGAN_RUNS)
    for run, gamma in zip(C.BEGAN_RUNS, (default["model"]["gamma"], 0.5)):
        mine = runs[run]
        assert (mine["variant"], mine["data"], mine["model"]) == (default["variant"], default["data"],
                                                                  {**default["model"], "gamma": gamma})
        assert (mine["train"]["steps"], mine["train"]["batch_size"]) == (default["train"]["steps"],
                                                                         default["train"]["batch_size"])
    parts = {(p.measure, p.a, p.b) for p in V.get("began-gamma-diversity").parts}
    assert parts == {("recall", "began", "began-gamma-0.5"), ("precision", "began-gamma-0.5", "began")}


@pytest.fixture(scope="module")
def reference(mnist_root):
    p = load_params(ROOT / "params.yaml")
    write_reference_stage(p.metrics, p.dedup, "mnist", mnist_root, mnist_root / "references" / "mnist")
    return mnist_root / "references" / "mnist"


def test_the_wgan_estimate_claim_runs_end_to_end_on_a_tiny_study(mnist_root, reference, tmp_path, monkeypatch):
    monkeypatch.setattr(C, "N_FAKE", 30)
    monkeypatch.setattr(C, "N_REAL", 20)
    run = from_dict(RunParams, {"variant": "wgan", "data": "mnist", "model": {"width": 8},
                                "train": {"steps": 6, "batch_size": 8, "sample_every": 6, "checkpoint_every": 2,
                                          "keep_generators": True, "log_every": 1, "n_samples": 4}}, "models.r")
    claims = ClaimsParams(seeds=(0, 1), workers=1, studies={C.CRITICS: StudyParams(runs={"wgan": run})})
    study = mnist_root / "studies" / C.CRITICS
    run_study(claims, C.CRITICS, mnist_root, study)
    V.write_claim(claims, "wgan-estimate-tracks-fid", mnist_root, tmp_path / "claims")
    saved = json.loads((tmp_path / "claims" / "wgan-estimate-tracks-fid.json").read_text())
    folder = seed_dir(study, "wgan", 1)
    kept = folder.kept_generators()
    assert list(kept) == [2, 4, 6]
    fid = [A.sample_quality(p, reference, 30, 20)[0]["fid"] for p in kept.values()]
    history = json.loads(folder.summary.read_text())["history"]
    estimate = C.window_means(history, "wasserstein", [2, 4, 6])
    assert estimate[0] == pytest.approx(np.mean([r["wasserstein"] for r in history if r["step"] in (1, 2)]))
    rho = saved["values"]["rho"]["wgan"]["1"]
    assert rho == pytest.approx(C.spearman(estimate, fid))
    assert (tmp_path / "claims" / "wgan-estimate-tracks-fid.png").stat().st_size > 5000


def test_the_wgan_gp_speed_claim_reads_each_runs_final_fid_steps_and_seconds(mnist_root, reference, tmp_path,
                                                                             monkeypatch):
    monkeypatch.setattr(A, "N_FAKE", 30)
    monkeypatch.setattr(A, "N_REAL", 20)
    root = tmp_path / "data"  # a data root of its own: the module's holds another critics study
    root.mkdir()
    for name in ("mnist", "references", "evaluators"):
        (root / name).symlink_to(mnist_root / name)

    def run(variant: str, steps: int) -> RunParams:
        return from_dict(RunParams, {"variant": variant, "data": "mnist", "model": {"width": 8},
                                     "train": {"steps": steps, "batch_size": 8, "sample_every": steps,
                                               "checkpoint_every": steps, "log_every": 1, "n_samples": 4}}, "models.r")
    claims = ClaimsParams(seeds=(0, 1), workers=1, studies={C.CRITICS: StudyParams(
        runs={"wgan": run("wgan", 3), "wgan_gp": run("wgan_gp", 2)})})
    run_study(claims, C.CRITICS, root, root / "studies" / C.CRITICS)
    V.write_claim(claims, "wgan-gp-converges-faster", root, tmp_path / "claims")
    saved = json.loads((tmp_path / "claims" / "wgan-gp-converges-faster.json").read_text())
    values = saved["values"]
    assert values["steps"] == {"wgan_gp": {"0": 2.0, "1": 2.0}, "wgan": {"0": 3.0, "1": 3.0}}
    for run_name in ("wgan", "wgan_gp"):
        folder = seed_dir(root / "studies" / C.CRITICS, run_name, 1)
        assert values["seconds"][run_name]["1"] == json.loads(folder.summary.read_text())["seconds"]
        expected = A.sample_quality(folder.generator, reference, 30, 20)[0]["fid"]
        assert values["fid"][run_name]["1"] == pytest.approx(expected)
    fid_d = [values["fid"]["wgan"][s] - values["fid"]["wgan_gp"][s] for s in ("0", "1")]
    sec_d = [values["seconds"]["wgan"][s] - values["seconds"]["wgan_gp"][s] for s in ("0", "1")]
    both = all(d > 0 for d in fid_d) and all(d > 0 for d in sec_d)
    assert (saved["verdict"] == "reproduced") == both


def test_the_critics_study_gives_wgan_gp_fewer_generator_steps_than_wgan():
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    runs = raw["claims"]["studies"][C.CRITICS]["runs"]
    assert runs["wgan_gp"]["train"]["steps"] < runs["wgan"]["train"]["steps"]
    parts = {(p.measure, p.a, p.b, p.rule.lower_is_better) for p in V.get("wgan-gp-converges-faster").parts}
    assert parts == {("fid", "wgan_gp", "wgan", True), ("seconds", "wgan_gp", "wgan", True)}
