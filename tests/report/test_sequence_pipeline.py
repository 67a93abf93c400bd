"""The sequence benchmark as DVC stages: oracle -> train@<run> -> sequences, in a scratch project on tiny data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from helpers import run_in, scratch_project

from ganlab.errors import GanlabError

MLE = {"variant": "seq_mle", "model": {"embed": 8, "hidden": 8},
       "train": {"steps": 4, "batch_size": 16, "eval_every": 2, "log_every": 1, "sample_every": 2,
                 "checkpoint_every": 2, "n_samples": 3}}
GAN = {"model": {"embed": 8, "hidden": 8, "pretrain_steps": 2, "d_pretrain_steps": 1, "d_steps": 1, "rollouts": 2,
                 "d_embed": 8, "d_filter_sizes": [1, 2, 3], "d_filter_counts": [4, 4, 4], "eval_iterations": 1},
       "train": {**MLE["train"], "steps": 5}}
RUNS = {  # the sequence runs the real sequences stage reads (params.yaml's four), each tiny, sharing as they do
    "oracle-mle": {**MLE, "data": "oracle", "train": {**MLE["train"], "snapshot_steps": [2]}},
    "oracle-seqgan": {**GAN, "variant": "seqgan", "data": "oracle", "pretrained_from": "oracle-mle"},
    "oracle-maligan": {**GAN, "variant": "maligan", "data": "oracle", "pretrained_from": "oracle-mle"},
    "coco-seqgan": {**GAN, "variant": "seqgan", "data": "coco-captions"},
}
CAPTIONS = ["a man rides a horse .", "a cat sits on a mat .", "two dogs play in the park .",
            "a plate of food on a table .", "a woman holds an umbrella ."]


def write_params(project: Path, params: dict) -> None:
    # through JSON: GAN's dicts, shared by three runs, would be written as YAML anchors and aliases, which params refuse
    (project / "params.yaml").write_text(yaml.safe_dump(json.loads(json.dumps(params)), sort_keys=False))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    from ganlab.data.datasets import write_content
    from ganlab.data.formats import TextData

    dst = scratch_project(tmp_path / "project", ["oracle", "train", "sequences"],
                          {run: "pretrained_from" in r for run, r in RUNS.items()})
    text = TextData({"train": CAPTIONS * 8, "test": CAPTIONS[::-1] * 2})
    (dst / "data" / "coco-captions").mkdir(parents=True)
    info = write_content(text, dst / "data" / "coco-captions")
    (dst / "data" / "coco-captions" / "dataset.json").write_text(json.dumps({"name": "coco-captions", **info}))
    params = {"seed": 0, "oracle": {"vocab": 30, "length": 8, "embed": 8, "hidden": 8, "n_train": 256, "seed": 0},
              "models": RUNS}
    write_params(dst, params)
    run_in(["git", "add", "-A"], dst)
    run_in(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "scratch"], dst)
    return dst


def test_repro_draws_the_oracle_trains_every_sequence_run_and_tabulates_them(project):
    out = run_in(["dvc", "repro"], project, OMP_NUM_THREADS="1")
    for stage in ["oracle", "sequences", *(f"train@{name}" for name in RUNS)]:
        assert f"Running stage '{stage}'" in out, stage
    report = (project / "reports" / "sequences" / "README.md").read_text()
    for name in RUNS:
        assert f"| {name} |" in report, name
    assert "| SeqGAN | 8.736 |" in report and "| *training sentences* |" in report
    metrics = json.loads((project / "reports" / "sequences" / "metrics.json").read_text())
    seqgan = metrics["oracle-seqgan"]
    assert (seqgan["mle_steps"], seqgan["d_pretrain_steps"], seqgan["adversarial_iterations"]) == (2, 1, 2)
    summary = json.loads((project / "data" / "models" / "oracle-seqgan" / "train_summary.json").read_text())
    assert [e["step"] for e in summary["evals"]] == [0, 2, 4, 5]  # start, MLE every 2 and at its end, every iteration
    assert seqgan["nll_oracle"] == summary["eval"]["nll_oracle"]
    assert metrics["oracle-seqgan"]["nll_oracle_after_mle"] == summary["evals"][1]["nll_oracle"]
    assert 0 <= metrics["coco-seqgan"]["bleu2"] <= 1
    assert (project / "reports" / "sequences" / "nll_oracle.png").stat().st_size > 1000
    samples = (project / "data" / "models" / "coco-seqgan" / "samples" / "step_0000004.txt").read_text().splitlines()
    assert len(samples) == 3 and all(w in " ".join(CAPTIONS) + " <end>" for s in samples for w in s.split())
    shown = run_in(["dvc", "metrics", "show", "--json"], project)
    assert "nll_oracle" in shown and "bleu2" in shown
    assert "Running stage" not in run_in(["dvc", "repro"], project)

    # the GAN runs started from oracle-mle's pre-training; training it on changes neither, nor re-runs them
    assert summary["pretrained"]["run"] == "oracle-mle" and "Shared pre-training: oracle-seqgan started" in report
    snapshot = (project / "data" / "models" / "oracle-mle" / "snapshots" / "step_2.pt").read_bytes()
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["models"]["oracle-mle"]["train"]["steps"] = 6
    write_params(project, params)
    out = run_in(["dvc", "repro"], project, OMP_NUM_THREADS="1")
    assert "Running stage 'train@oracle-mle'" in out and "Running stage 'sequences'" in out
    assert "Running stage 'train@oracle-seqgan'" not in out and "Running stage 'train@oracle-maligan'" not in out
    assert (project / "data" / "models" / "oracle-mle" / "snapshots" / "step_2.pt").read_bytes() == snapshot
    # another pre-training (here: another learning rate for all three) re-runs the GAN runs from the new snapshot
    for run in ("oracle-mle", "oracle-seqgan", "oracle-maligan"):
        params["models"][run]["model"]["lr"] = 0.02
    write_params(project, params)
    out = run_in(["dvc", "repro"], project, OMP_NUM_THREADS="1")
    assert all(f"Running stage 'train@{run}'" in out for run in ("oracle-mle", "oracle-seqgan", "oracle-maligan"))
    assert "Running stage 'train@coco-seqgan'" not in out


def test_report_names_a_run_that_has_not_trained(tmp_path):
    from ganlab.params import load_params
    from ganlab.report.sequences import build

    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"models": {"oracle-mle": RUNS["oracle-mle"]}}))
    with pytest.raises(GanlabError, match=r"models/oracle-mle/train_summary\.json: missing; run `dvc repro "
                                          r"train@oracle-mle` first"):
        build(load_params(tmp_path / "params.yaml").models, tmp_path / "data", tmp_path / "out")


def test_the_projects_sequences_stage_reads_exactly_the_sequence_runs_of_params_yaml():
    """Its deps list each run's summary by hand (dvc.yaml cannot loop inside a list): keep them in step."""
    from ganlab.params import load_params
    from ganlab.report.sequences import sequence_runs

    root = Path(__file__).resolve().parents[2]
    stage = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]["sequences"]
    listed = {d.split("/")[2] for d in stage["deps"] if d.startswith("data/models/") and d.endswith("/train_summary.json")}
    runs = set(sequence_runs(load_params(root / "params.yaml").models))
    assert listed == runs
    assert set(stage["params"]) == {f"models.{run}" for run in runs}  # not all of models: image runs stay out
