"""Studies and claims on real (tiny) runs: every seed trained by the one trainer in worker processes, the weights
independent of how many workers, the registered claims measured on them, and the verdicts kept."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ganlab.claims import keep as K
from ganlab.claims import verdict as V
from ganlab.claims.config import ClaimsParams, StudyParams
from ganlab.claims.study import read_study, run_study, seed_dir
from ganlab.claims.toy import REMEDIES, wasserstein_1d
from ganlab.data.config import ModesProtocolParams, RingParams, ToyParams
from ganlab.data.toy import write_toy
from ganlab.data.toy2d import RING, write_toy2d
from ganlab.errors import GanlabError
from ganlab.files import write_json_atomic
from ganlab.schema import from_dict
from ganlab.train.config import RunParams

TRAIN = {"steps": 4, "batch_size": 16, "sample_every": 2, "checkpoint_every": 4, "log_every": 1, "n_samples": 32}


def _run(variant, data, **model):
    return from_dict(RunParams, {"variant": variant, "data": data, "model": model, "train": TRAIN}, "models.r")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_toy2d(RING, RingParams(n=2000), ModesProtocolParams(samples=200), root / "toy-ring")
    write_toy(ToyParams(n=2000), root / "toy-gaussian")
    return root


def _ring_study():
    small = {"arch": "toy", "hidden": 8, "z_dim": 4}
    return {"gan": _run("gan", "toy-ring", **small),
            "unrolled_gan": _run("unrolled_gan", "toy-ring", **small, unroll_steps=2),
            "wgan_gp": _run("wgan_gp", "toy-ring", arch="toy", width=8, z_dim=4),
            "minibatch": _run("gan", "toy-ring", **small, minibatch_kernels=3),
            "dragan": _run("dragan", "toy-ring", **small)}


def test_a_study_trains_every_run_once_per_seed_the_same_whatever_the_workers(data_root, tmp_path):
    studies = {"ring": StudyParams(runs={k: v for k, v in _ring_study().items() if k in ("gan", "minibatch")})}
    one = run_study(ClaimsParams(seeds=(0, 1), workers=1, studies=studies), "ring", data_root, tmp_path / "one")
    two = run_study(ClaimsParams(seeds=(0, 1), workers=2, studies=studies), "ring", data_root, tmp_path / "two")
    assert read_study(tmp_path / "two") == two and set(two["runs"]) == {"gan", "minibatch"}
    assert set(one["runs"]["gan"]["seconds"]) == {"0", "1"}
    weights = {}
    for where in ("one", "two"):
        for run in ("gan", "minibatch"):
            for seed in (0, 1):
                state = torch.load(seed_dir(tmp_path / where, run, seed).generator, weights_only=True)
                weights[where, run, seed] = state["weights"] if "weights" in state else state
    g = lambda w, r, s: torch.cat([t.flatten() for t in _tensors(weights[w, r, s])])  # noqa: E731
    assert torch.equal(g("one", "gan", 0), g("two", "gan", 0))  # one worker or two: the same weights
    assert not torch.equal(g("two", "gan", 0), g("two", "gan", 1))  # another seed: other weights


def _tensors(state):
    if torch.is_tensor(state):
        return [state]
    if isinstance(state, dict):
        return [t for v in state.values() for t in _tensors(v)]
    return []


def test_an_unknown_study_and_an_interrupted_one_are_named(data_root, tmp_path):
    with pytest.raises(GanlabError, match="claims.studies.rng"):
        run_study(ClaimsParams(studies={"ring": StudyParams(runs=_ring_study())}), "rng", data_root, tmp_path)
    (tmp_path / "ring").mkdir()
    with pytest.raises(GanlabError, match="study.json: missing"):
        read_study(tmp_path / "ring")


def test_the_registered_claims_run_end_to_end_on_tiny_studies(data_root, tmp_path):
    g1 = {"gan": _run("gan", "toy-gaussian", arch="toy", hidden=8, z_dim=1),
          "gan-saturating": _run("gan", "toy-gaussian", arch="toy", hidden=8, z_dim=1, g_loss="saturating")}
    # the 1-D study names seeds of its own (its runs are cheap); the ring trains on claims.seeds
    claims = ClaimsParams(seeds=(0, 1), workers=2, studies={"ring": StudyParams(runs=_ring_study()),
                                                            "gaussian-1d": StudyParams(seeds=(0, 1, 2), runs=g1)})
    for study in ("ring", "gaussian-1d"):
        run_study(claims, study, data_root, data_root / "studies" / study)
    assert read_study(data_root / "studies" / "gaussian-1d")["seeds"] == [0, 1, 2]
    assert set(read_study(data_root / "studies" / "gaussian-1d")["runs"]["gan"]["seconds"]) == {"0", "1", "2"}
    out = tmp_path / "claims"
    for cid, n in (("mode-collapse-ring", 2), ("gan-1d-converges", 3), ("gan-saturating-loss", 3)):
        result = V.write_claim(claims, cid, data_root, out)
        saved = json.loads((out / f"{cid}.json").read_text())
        assert saved["verdict"] == result["verdict"] in ("reproduced", "not reproduced", "inconclusive")
        assert saved["n_seeds"] == n and (out / f"{cid}.png").stat().st_size > 1000, cid
        assert all(set(by_seed) == {str(s) for s in range(n)} for by_run in saved["values"].values()
                   for by_seed in by_run.values()), cid
    ring = json.loads((out / "mode-collapse-ring.json").read_text())
    assert set(ring["values"]["modes"]) == {"gan", *REMEDIES}
    assert all(0 <= v <= 8 for by_seed in ring["values"]["modes"].values() for v in by_seed.values())
    assert [p["b"] for p in ring["parts"]] == ["gan"] * len(REMEDIES)
    assert {p["source"] for p in ring["published"]} == {"Srivastava et al. 2017 (VEEGAN), Table 1",
                                                        "Lin et al. 2018 (PacGAN), Table 1"}
    assert {"method": "GAN", "value": "6.3 +- 0.5 / 98.2 +- 0.2% / 0.45 +- 0.09"}.items() <= next(
        p for p in ring["published"] if "PacGAN" in p["source"] and p["method"] == "GAN").items()
    g = json.loads((out / "gan-saturating-loss.json").read_text())
    assert set(g["values"]["log10_grad_start"]) == {"gan", "gan-saturating"}

    # the profile's verdicts are kept beside the default's, with where they came from
    kept = tmp_path / "claims-profile"
    K.keep_claims(out, kept, "ganlab profile claims && dvc repro")
    prov = K.read_provenance(kept)
    assert set(prov) == {"mode-collapse-ring", "gan-1d-converges", "gan-saturating-loss"}
    assert prov["mode-collapse-ring"]["seeds"] == [0, 1] and prov["gan-1d-converges"]["seeds"] == [0, 1, 2]
    assert {p["command"] for p in prov.values()} == {"ganlab profile claims && dvc repro"}
    assert (kept / "mode-collapse-ring.json").read_bytes() == (out / "mode-collapse-ring.json").read_bytes()

    # keeping one claim again replaces its record and provenance, and leaves the others' as they were
    ring = json.loads((out / "mode-collapse-ring.json").read_text())
    write_json_atomic(out / "mode-collapse-ring.json", {**ring, "verdict": "inconclusive"})
    before = {p.name: p.read_bytes() for p in kept.iterdir() if p.name != K.PROVENANCE}
    K.keep_claims(out, kept, "dvc repro claim@mode-collapse-ring", only=["mode-collapse-ring"])
    again = K.read_provenance(kept)
    assert again["mode-collapse-ring"]["command"] == "dvc repro claim@mode-collapse-ring"
    assert {c: p for c, p in again.items() if c != "mode-collapse-ring"} == {
        c: p for c, p in prov.items() if c != "mode-collapse-ring"}
    changed = [n for n, b in before.items() if (kept / n).read_bytes() != b]
    assert changed == ["mode-collapse-ring.json"]
    with pytest.raises(GanlabError, match="no-such-claim"):
        K.keep_claims(out, kept, "x", only=["no-such-claim"])

    (kept / "notes.txt").write_text("mine")
    with pytest.raises(GanlabError, match="'notes.txt', which is not a kept claim"):
        K.keep_claims(out, kept, "again")
    assert (kept / "notes.txt").read_text() == "mine"


def test_provenance_of_the_first_format_is_read_for_each_claim_it_lists(tmp_path):
    (tmp_path / K.PROVENANCE).write_text(json.dumps({"command": "c", "date": "2026-12-01", "commit": "abc",
                                                     "claims": ["x", "y"], "seeds": [[0, 1, 2]]}))
    assert K.read_provenance(tmp_path) == {"x": {"command": "c", "date": "2026-12-01", "commit": "abc"},
                                           "y": {"command": "c", "date": "2026-12-01", "commit": "abc"}}
    (tmp_path / K.PROVENANCE).write_text("not json")
    assert K.read_provenance(tmp_path) == {} and K.read_provenance(tmp_path / "absent") == {}


def test_a_claim_on_a_study_trained_without_its_run_says_which(data_root, tmp_path):
    root = tmp_path / "data"  # the datasets linked in, and a ring study of the plain gan alone
    root.mkdir()
    (root / "toy-ring").symlink_to(data_root / "toy-ring")
    claims = ClaimsParams(seeds=(0, 1), workers=1, studies={"ring": StudyParams(runs={"gan": _ring_study()["gan"]})})
    run_study(claims, "ring", root, root / "studies" / "ring")
    with pytest.raises(GanlabError, match="compares run 'unrolled_gan', which study ring does not train"):
        V.write_claim(claims, "mode-collapse-ring", root, tmp_path / "claims")
    assert not (tmp_path / "claims" / "mode-collapse-ring.json").exists()


def test_wasserstein_1d_known_answers():
    a = np.array([0.0, 1.0, 2.0])
    assert wasserstein_1d(a, a + 0.5) == pytest.approx(0.5)
    assert wasserstein_1d(a, a[::-1]) == 0.0
    with pytest.raises(ValueError):
        wasserstein_1d(a, a[:2])
