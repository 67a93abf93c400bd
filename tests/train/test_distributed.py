"""Training under torchrun (ganlab.train.distributed): the batch splits over processes, and replicas stay identical."""

from __future__ import annotations

import os

import pytest
import torch
from tiny_variants import config, data, make

from ganlab.errors import GanlabError
from ganlab.runs import RunDir
from ganlab.train.trainer import Trainer


def test_batch_must_split_evenly_over_processes(monkeypatch):
    from ganlab.train import distributed

    monkeypatch.setattr(distributed, "world_size", lambda: 3)
    x, y = data()
    with pytest.raises(GanlabError, match="batch_size = 8 is not divisible by the 3 processes"):
        Trainer(make("gan"), x, y, config(), "unused")


def test_torchrun_two_processes_train_identical_replicas(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    worker = Path(__file__).with_name("dist_worker.py")
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(worker), str(tmp_path)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert r0["world"] == r1["world"] == 2 and r0["backend"] == "gloo"
    assert r0["shard"] != r1["shard"]  # each process saw its own half of the batch ...
    for k in r0["params"]:  # ... and gradient averaging kept every weight identical
        assert torch.equal(r0["params"][k], r1["params"][k]), k
    assert any(not torch.equal(r0["params"][k], r0["initial"][k]) for k in r0["params"])
    saved = torch.load(RunDir(tmp_path / "run").checkpoint, weights_only=True)
    assert saved["step"] == 3 and len(saved["rng"]) == 2  # one checkpoint, with every process's RNG state
    assert (tmp_path / "run" / "generator.pt").exists() and (tmp_path / "run" / "samples").is_dir()
