"""Issue 26, cases 2, 3 and 9: a run's folder is its own. A run with other settings or fewer steps than done is
refused and the run kept (unless --restart); one process at a time trains in a folder; a stopped run exits
non-zero, and its resumed parts keep every part's history and seconds. Run as real processes, as a user or
`dvc repro` runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ganlab.data.config import ToyParams
from ganlab.data.toy import write_toy

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_toy(ToyParams(n=200), tmp_path / "data" / "toy-gaussian")
    (tmp_path / "params.yaml").write_text(
        "models:\n  t:\n    variant: gan\n    data: toy-gaussian\n    model: {arch: affine, z_dim: 1}\n"
        "    train: {steps: 6, batch_size: 8, log_every: 1, checkpoint_every: 2, sample_every: 1000}\n")
    return tmp_path


def ganlab(project: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ganlab.cli", *args], cwd=project, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"}, **kw)


def train(project: Path, *args: str) -> subprocess.CompletedProcess:
    return ganlab(project, "train", "t", "--params", "params.yaml", "--out", "run", *args)


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != ".lock"}


def error_line(proc: subprocess.CompletedProcess) -> str:
    lines = [line for line in proc.stderr.splitlines() if " ERROR " in line]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_fewer_steps_or_other_settings_keep_the_finished_run(project):
    assert train(project).returncode == 0
    before = files(project / "run")
    fewer = train(project, "--steps", "2")
    assert fewer.returncode == 2
    assert "checkpoint.pt is at step 6, past steps = 2; the run was kept: pass --restart" in error_line(fewer)
    (project / "params.yaml").write_text((project / "params.yaml").read_text().replace("steps: 6,", "steps: 6, seed: 1,"))
    other = train(project)
    assert other.returncode == 2 and "other settings (train.seed 0 -> 1)" in error_line(other)
    assert files(project / "run") == before  # checkpoint, generator, samples, summary: byte for byte
    restarted = train(project, "--restart", "--steps", "2")
    assert restarted.returncode == 0, restarted.stderr
    assert json.loads((project / "run" / "train_summary.json").read_text())["step"] == 2


def test_a_second_process_is_refused_and_sigterm_ends_the_first_nonzero_with_its_history_kept(project):
    first = subprocess.Popen([sys.executable, "-m", "ganlab.cli", "train", "t", "--params", "params.yaml",
                              "--out", "run", "--steps", "10000000"], cwd=project, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        summary = project / "run" / "train_summary.json"
        deadline = time.monotonic() + 120
        while not summary.exists():  # written at the first checkpoint (step 2): the run is under way
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.2)
        second = train(project, "--steps", "10000000")
        assert second.returncode == 2
        assert f"run: process {first.pid} is training gan in it" in error_line(second)
    finally:
        first.send_signal(signal.SIGTERM)
        _, err = first.communicate(timeout=120)
    assert first.returncode == 128 + signal.SIGTERM, err
    line = [ln for ln in err.splitlines() if " ERROR " in ln][-1]
    assert "gan: stopped by SIGTERM at step" in line and "run the same command again to continue" in line
    stopped = json.loads(summary.read_text())
    assert stopped["finished"] is False and not (project / "run" / "generator.pt").exists()
    done = train(project, "--steps", str(stopped["step"] + 3))  # resumes: fewer steps than asked before is fine
    assert done.returncode == 0, done.stderr
    final = json.loads(summary.read_text())
    assert [r["step"] for r in final["history"]] == list(range(1, stopped["step"] + 4))  # every part's steps, once
    assert final["seconds"] >= stopped["seconds"]


def test_the_train_stage_script_exits_nonzero_when_stopped(project):
    """What `dvc repro` runs: a stop signal must fail the stage, not leave it looking done without generator.pt."""
    (project / "params.yaml").write_text((project / "params.yaml").read_text().replace("steps: 6", "steps: 10000000"))
    stage = subprocess.Popen([sys.executable, str(ROOT / "stages" / "train.py"), "t", "--params", "params.yaml",
                              "--out", "run"], cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 120
    while not (project / "run" / "train_summary.json").exists():
        assert stage.poll() is None and time.monotonic() < deadline, stage.communicate()
        time.sleep(0.2)
    stage.send_signal(signal.SIGINT)
    _, err = stage.communicate(timeout=120)
    assert stage.returncode == 128 + signal.SIGINT, err
    assert not (project / "run" / "generator.pt").exists()
