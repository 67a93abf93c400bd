"""One MLE pre-training shared by several runs (ganlab.train.pretraining): a run started from another run's snapshot
computes what it computes alone, and a snapshot that is not its own pre-training is refused before anything is
loaded. Through train_run, on a small oracle, as stage train@<run> runs it."""

from __future__ import annotations

import copy
import csv
import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from helpers import flipped

from ganlab.errors import GanlabError, ParamsError
from ganlab.params import Params, load_params
from ganlab.runs import RunDir, UnreadableSnapshot, read_checkpoint, read_snapshot
from ganlab.schema import from_dict
from ganlab.train import pretraining
from ganlab.train.pretraining import PretrainingMismatch
from ganlab.train.run import train_run
from ganlab.train.trainer import RunConflict

ROOT = Path(__file__).resolve().parents[2]
PRE = 3  # the GAN runs' MLE steps: the snapshot they start from
MLE = {"variant": "seq_mle", "data": "oracle", "model": {"embed": 8, "hidden": 8},
       "train": {"steps": 6, "batch_size": 16, "eval_every": 2, "log_every": 1, "sample_every": 3,
                 "checkpoint_every": 2, "n_samples": 3, "snapshot_steps": [PRE]}}
GAN_MODEL = {"embed": 8, "hidden": 8, "pretrain_steps": PRE, "d_pretrain_steps": 1, "d_steps": 2, "rollouts": 2,
             "d_embed": 8, "d_filter_sizes": [1, 2, 3], "d_filter_counts": [4, 4, 4], "eval_iterations": 1}
GAN_TRAIN = {"steps": 7, "batch_size": 16, "eval_every": 1, "log_every": 1, "sample_every": 3, "checkpoint_every": 2,
             "n_samples": 3}


def runs(variant: str, **changes: dict) -> dict:
    """models: the MLE run keeping its step-3 pre-training, the GAN run alone, and the GAN run started from it."""
    alone = {"variant": variant, "data": "oracle", "model": dict(GAN_MODEL), "train": dict(GAN_TRAIN)}
    models = {"mle": copy.deepcopy(MLE), "alone": alone, "shared": {**copy.deepcopy(alone), "pretrained_from": "mle"}}
    for run, change in changes.items():
        for section, values in change.items():
            models[run][section] = {**models[run][section], **values} if isinstance(values, dict) else values
    return models


def params_of(models: dict) -> Params:
    return from_dict(Params, json.loads(json.dumps({"models": models})), "")


@pytest.fixture(scope="module")
def oracle(tmp_path_factory) -> Path:
    """A small oracle dataset (stage oracle's writer): vocabulary 30, length 8, 256 sequences."""
    from ganlab.data.config import OracleParams
    from ganlab.data.oracle import write_oracle

    root = tmp_path_factory.mktemp("oracle") / "oracle"
    write_oracle(OracleParams(vocab=30, length=8, embed=8, hidden=8, n_train=256, seed=0), root)
    return root


@pytest.fixture
def data_root(oracle, tmp_path) -> Path:
    """DATA_ROOT of a test: the oracle dataset, and data/models/<run> for its runs."""
    shutil.copytree(oracle, tmp_path / "data" / "oracle")
    return tmp_path / "data"


def rows(run: Path, after: int) -> dict[str, list[list[str]]]:
    """Every dvclive row past step ``after``, by series (images/s, the clock's, left out)."""
    found = {}
    for tsv in sorted((run / "dvclive" / "plots" / "metrics").rglob("*.tsv")):
        if tsv.name != "images_per_s.tsv":
            table = list(csv.reader(tsv.open(), delimiter="\t"))
            past = [r for r in table[1:] if int(r[0]) > after]
            if past:  # the MLE loss ends with the pre-training: a run started from it logs none
                found[str(tsv.relative_to(run))] = past
    return found


def assert_same_run(a: Path, b: Path) -> None:
    """Runs ``a`` and ``b`` end with the same networks and optimizers, scores and dvclive rows past the pre-training."""
    ca, cb = read_checkpoint(RunDir(a).checkpoint), read_checkpoint(RunDir(b).checkpoint)
    assert ca.step == cb.step
    for key, value in ca.model["nets"].items():
        assert torch.equal(value, cb.model["nets"][key]), key
    for role, state in ca.model["optimizers"].items():
        assert set(state["state"]) == set(cb.model["optimizers"][role]["state"]), role
        for index, moments in state["state"].items():
            for name, tensor in moments.items():
                assert torch.equal(tensor, cb.model["optimizers"][role]["state"][index][name]), (role, index, name)
    sa, sb = (json.loads(RunDir(p).summary.read_text()) for p in (a, b))
    assert sa["eval"] == sb["eval"]
    assert [e for e in sa["evals"] if e["step"] >= PRE] == [e for e in sb["evals"] if e["step"] >= PRE]
    assert rows(a, PRE) == rows(b, PRE) and any(rows(a, PRE).values())
    assert (RunDir(a).samples / "step_0000006.txt").read_text() == (RunDir(b).samples / "step_0000006.txt").read_text()


@pytest.mark.parametrize("variant", ["seqgan", "maligan"])
def test_a_run_started_from_the_shared_pretraining_computes_what_it_computes_alone(data_root, variant):
    models = params_of(runs(variant)).models
    mle = train_run(models, "mle", data_root, progress=False)
    snap = read_snapshot(RunDir.of("mle", data_root).snapshot(PRE))
    # the MLE run kept its step-3 state, and scored it there although eval_every is 2: the GAN runs need that score
    assert snap.step == PRE and [e["step"] for e in snap.evals] == [0, 2, 3]
    assert [e["step"] for e in json.loads(RunDir.of("mle", data_root).summary.read_text())["evals"]] == [0, 2, 3, 4, 6]
    assert mle["finished"]
    alone = train_run(models, "alone", data_root, progress=False)
    shared = train_run(models, "shared", data_root, progress=False)
    assert_same_run(RunDir.of("alone", data_root).root, RunDir.of("shared", data_root).root)
    assert shared["eval"] == alone["eval"] and shared["phases"] == alone["phases"]
    assert shared["pretrained"]["run"] == "mle" and shared["pretrained"]["step"] == PRE
    # its scores up to the pre-training's end are the MLE run's, shared: the report reads them as its own
    summary = json.loads(RunDir.of("shared", data_root).summary.read_text())
    assert [e for e in summary["evals"] if e["step"] <= PRE] == snap.evals
    assert all(r["step"] > PRE for r in summary["history"])  # it trained only past the pre-training
    logged = (RunDir.of("shared", data_root).dvclive / "plots" / "metrics" / "eval" / "nll_oracle.tsv").read_text()
    assert [line.split("\t")[0] for line in logged.splitlines()[1:4]] == ["0", "2", "3"]


@pytest.mark.parametrize("left_out", ["network", "optimizer"])
def test_the_comparison_sees_a_pretraining_that_was_not_carried_over_whole(data_root, monkeypatch, tmp_path, left_out):
    """The test above can fail: a start that leaves out the pre-trained weights, or the MLE optimizer's moments
    (which the adversarial phase no longer uses, but a checkpoint holds), is told apart."""
    models = params_of(runs("seqgan")).models
    train_run(models, "mle", data_root, progress=False)
    train_run(models, "alone", data_root, progress=False)
    real = pretraining.load

    def partly(snap, variant, rank):
        fresh = {"network": variant.nets["generator"].state_dict(),
                 "optimizer": variant.optimizers["generator"].state_dict()}[left_out]
        real(pretraining.Snapshot(**{**snap.__dict__, left_out: fresh}), variant, rank)

    monkeypatch.setattr(pretraining, "load", partly)
    train_run(models, "shared", data_root, out=tmp_path / "partial", progress=False)
    with pytest.raises(AssertionError):
        assert_same_run(RunDir.of("alone", data_root).root, tmp_path / "partial")


def test_the_same_pretraining_writes_the_same_bytes_and_a_run_started_from_it_resumes(data_root, tmp_path, caplog):
    """What keeps DVC's graph exact: a pre-training trained again (its code edited, say) gives the same snapshot,
    so the runs that start from it are not re-run; and one of them re-run resumes its own checkpoint."""
    caplog.set_level(logging.INFO)
    models = params_of(runs("seqgan")).models
    train_run(models, "mle", data_root, progress=False)
    train_run(models, "mle", data_root, out=tmp_path / "again", progress=False)
    assert RunDir.of("mle", data_root).snapshot(PRE).read_bytes() == RunDir(tmp_path / "again").snapshot(PRE).read_bytes()
    first = train_run(models, "shared", data_root, progress=False)
    again = train_run(models, "shared", data_root, progress=False)
    assert "resumed from" in caplog.text and again["eval"] == first["eval"]


def test_a_run_that_pretrains_itself_keeps_no_snapshot_and_its_folder_says_so(data_root, tmp_path):
    models = params_of(runs("seqgan")).models
    train_run(models, "alone", data_root, out=tmp_path / "alone", progress=False)
    assert json.loads(RunDir(tmp_path / "alone").snapshot_index.read_text())["steps"] == []
    assert list(RunDir(tmp_path / "alone").snapshots.iterdir()) == [RunDir(tmp_path / "alone").snapshot_index]


def test_a_snapshot_it_no_longer_keeps_is_removed_and_one_it_passed_without_is_trained_again(data_root, tmp_path,
                                                                                            caplog):
    caplog.set_level(logging.INFO)
    out = RunDir(tmp_path / "mle")
    models = params_of(runs("seqgan")).models
    train_run(models, "mle", data_root, out=out.root, progress=False)
    first = out.snapshot(PRE).read_bytes()
    # the same run trained on: the snapshot it passed stays as it was, so nothing that starts from it re-runs
    longer = params_of(runs("seqgan", mle={"train": {"steps": 8}})).models
    train_run(longer, "mle", data_root, out=out.root, progress=False)
    assert "resumed from" in caplog.text and out.snapshot(PRE).read_bytes() == first
    # another snapshot step before the checkpoint: it cannot be had without training those steps again
    other = params_of(runs("seqgan", mle={"train": {"steps": 8, "snapshot_steps": [2]}},
                           shared={"pretrained_from": ""})).models
    with pytest.raises(RunConflict, match=r"checkpoint\.pt is at step 8, past snapshot step 2, but .*snapshots/"
                                          r"step_2\.pt is missing or not this run's; the run was kept"):
        train_run(other, "mle", data_root, out=out.root, progress=False)
    train_run(other, "mle", data_root, out=out.root, restart="stale", progress=False)
    assert sorted(p.name for p in out.snapshots.iterdir()) == ["index.json", "step_2.pt"]
    assert json.loads(out.snapshot_index.read_text())["steps"] == [2]


def test_a_snapshot_of_other_settings_is_refused_naming_the_key(data_root, tmp_path):
    """params.yaml is checked first (below); a stale snapshot, which DVC would have re-made, is refused by its file."""
    mle_seed_1 = params_of(runs("seqgan", mle={"train": {"seed": 1}}, alone={"train": {"seed": 1}},
                                shared={"train": {"seed": 1}})).models
    train_run(mle_seed_1, "mle", data_root, progress=False)
    models = params_of(runs("seqgan")).models
    with pytest.raises(PretrainingMismatch, match=r"snapshots/step_3\.pt: mle's pre-training has train\.seed = 1, "
                                                  r"this run 0: a run starts from another's pre-training \(pretrained"
                                                  r"_from: mle\) only with the same data, seed"):
        train_run(models, "shared", data_root, progress=False)
    assert not RunDir.of("shared", data_root).root.exists()  # refused before anything was written


def test_a_missing_or_damaged_snapshot_is_named(data_root, tmp_path):
    models = params_of(runs("seqgan")).models
    with pytest.raises(PretrainingMismatch, match=r"models/mle/snapshots/step_3\.pt: missing; mle keeps it when its "
                                                  r"train\.snapshot_steps list 3 \(`dvc repro train@mle`\)"):
        train_run(models, "shared", data_root, progress=False)
    train_run(models, "mle", data_root, progress=False)
    path = RunDir.of("mle", data_root).snapshot(PRE)
    flipped(path, 200, path)
    with pytest.raises(UnreadableSnapshot, match=r"step_3\.pt: damaged file"):
        train_run(models, "shared", data_root, progress=False)


def test_a_snapshot_whose_tensors_do_not_fit_is_refused_before_loading(data_root, tmp_path):
    from ganlab.runs import write_snapshot

    models = params_of(runs("seqgan")).models
    train_run(models, "mle", data_root, progress=False)
    path = RunDir.of("mle", data_root).snapshot(PRE)
    snap = read_snapshot(path)
    cut = {**snap.network, "out.weight": snap.network["out.weight"][:-1]}
    write_snapshot(path, pretraining.Snapshot(**{**snap.__dict__, "network": cut}))
    with pytest.raises(UnreadableSnapshot, match=r"network\.out\.weight is \(29, 8\) torch\.float32 in the file, "
                                                 r"seqgan's generator holds \(30, 8\)"):
        train_run(models, "shared", data_root, progress=False)
    torch.save({"format": "ganlab-snapshot/1", "step": 3, "variant": "seq_mle", "settings": {}, "evals": [],
                "eval_protocol": {}, "network": {}, "optimizer": {}, "rng": []}, path)
    with pytest.raises(UnreadableSnapshot, match=r"step_3\.pt: settings must be a mapping of config, data and train"):
        read_snapshot(path)


# --------------------------------------------------------------------------- params.yaml


@pytest.mark.parametrize("change, message", [
    ({"shared": {"model": {"lr": 0.02}}}, r"models\.shared\.model\.lr = 0\.02, but models\.mle\.model\.lr = 0\.01: a "
                                          r"run starts from another's pre-training \(pretrained_from: mle\) only with "
                                          r"the same data, seed, batch size, amp and embed, hidden, lr, clip"),
    ({"shared": {"train": {"seed": 1}}}, r"models\.shared\.train\.seed = 1, but models\.mle\.train\.seed = 0"),
    ({"shared": {"train": {"batch_size": 8}}}, r"models\.shared\.train\.batch_size = 8, but models\.mle\.train\.batch"),
    ({"shared": {"model": {"hidden": 16}}}, r"models\.shared\.model\.hidden = 16, but models\.mle\.model\.hidden = 8"),
    ({"shared": {"data": "coco-captions"}}, r"models\.shared\.data = 'coco-captions', but models\.mle\.data = 'oracle'"),
    ({"shared": {"model": {"pretrain_steps": 2}, "train": {"steps": 6}}},
     r"models\.shared\.model\.pretrain_steps = 2, but models\.mle\.train\.snapshot_steps = \[3\] keeps no snapshot "
     r"at step 2 \(pretrained_from: mle\); add it there"),
    ({"shared": {"pretrained_from": "mel"}}, r"models\.shared\.pretrained_from = 'mel': no run under models: \(did "
                                             r"you mean 'mle'\?\)"),
    ({"shared": {"pretrained_from": "shared"}}, r"models\.shared\.pretrained_from = 'shared': the run itself"),
    ({"alone": {"pretrained_from": "mle"}, "shared": {"pretrained_from": "alone"}},
     r"models\.shared\.pretrained_from = 'alone': that run starts from mle's pre-training itself; name mle"),
    ({"mle": {"pretrained_from": "alone"}}, r"models\.mle\.pretrained_from = 'alone': variant 'seq_mle' has no MLE "
                                            r"pre-training \(model\.pretrain_steps\)"),
    ({"shared": {"train": {"snapshot_steps": [2]}}}, r"models\.shared\.train\.snapshot_steps: a run that starts "
                                                     r"from mle's pre-training does not train one to keep"),
    ({"mle": {"train": {"snapshot_steps": [7]}}}, r"models\.mle\.train\.snapshot_steps = \[7\]: step 7 is not in the "
                                                  r"run's MLE phase \(steps 1 to 6\)"),
    ({"alone": {"train": {"snapshot_steps": [4]}}}, r"models\.alone\.train\.snapshot_steps = \[4\]: step 4 is not in "
                                                    r"the run's MLE phase \(steps 1 to 3\)"),
])
def test_params_refuse_a_pretraining_that_is_not_the_runs_own_first_steps(change, message):
    with pytest.raises(ParamsError, match=message):
        params_of(runs("seqgan", **change))


def test_pretrain_steps_must_be_written_out_where_dvc_yaml_reads_it():
    models = runs("seqgan")
    del models["shared"]["model"]["pretrain_steps"]
    with pytest.raises(ParamsError, match=r"models\.shared\.model\.pretrain_steps is missing: with pretrained_from it "
                                          r"names the snapshot of mle the run starts from \(dvc\.yaml reads it\)"):
        params_of(models)


def test_an_image_run_keeps_no_pretraining():
    with pytest.raises(ParamsError, match=r"models\.g\.train\.snapshot_steps = \[1\]: variant 'gan' has no MLE "
                                          r"pre-training to keep"):
        params_of({"g": {"variant": "gan", "train": {"steps": 2, "snapshot_steps": [1]}}})


def test_a_seed_sweep_of_one_gan_run_alone_stops_the_command_with_one_line_and_exit_code_2(tmp_path):
    """What `dvc exp run -S models.oracle-seqgan.train.seed=1` does to params.yaml: every stage refuses it."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["models"]["oracle-seqgan"]["train"]["seed"] = 1
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    proc = subprocess.run([sys.executable, "-m", "ganlab.cli", "check-params", str(path)], capture_output=True,
                          text=True, cwd=ROOT)
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "models.oracle-seqgan.train.seed = 1, but models.oracle-mle.train.seed = 0" in errors[0]
    for run in ("oracle-mle", "oracle-maligan"):  # the study's three seeds together: one pre-training per seed
        params["models"][run]["train"]["seed"] = 1
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    assert load_params(path).models["oracle-seqgan"].train.seed == 1


def test_the_projects_oracle_gan_runs_start_from_the_mle_runs_pretraining():
    models = load_params(ROOT / "params.yaml").models
    for run in ("oracle-seqgan", "oracle-maligan"):
        assert models[run].pretrained_from == "oracle-mle"
        assert models[run].model.pretrain_steps in models["oracle-mle"].train.snapshot_steps
    assert not models["coco-seqgan"].pretrained_from  # a run without a shared pre-training pre-trains itself
    stage = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["train"]
    item = stage["foreach"]["oracle-seqgan"]["start"]
    assert item == "data/models/${models.oracle-seqgan.pretrained_from}/snapshots/step_" \
                   "${models.oracle-seqgan.model.pretrain_steps}.pt"
    resolved = item.replace("${models.oracle-seqgan.pretrained_from}", "oracle-mle").replace(
        "${models.oracle-seqgan.model.pretrain_steps}", "500")
    assert Path(resolved) == RunDir.of("oracle-mle").snapshot(500)
    assert "${item.start}" in stage["do"]["deps"]
    assert {"data/models/${key}/snapshots": {"persist": True}} in stage["do"]["outs"]


def test_a_generic_error_is_a_ganlab_error():
    assert issubclass(PretrainingMismatch, GanlabError) and issubclass(UnreadableSnapshot, GanlabError)
