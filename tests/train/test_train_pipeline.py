"""The train@<run> stages: dvc repro in a scratch project on a tiny dataset, and what each stage depends on."""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers import expand_code_deps, run_in, scratch_project

from ganlab.models import registry
from ganlab.params import load_params

ROOT = Path(__file__).resolve().parents[2]


def modules_used(cls: type) -> set[str]:
    """Every ganlab module the variant's code reaches: its class hierarchy and what those modules import."""
    todo = [c.__module__ for c in cls.__mro__ if c.__module__.startswith("ganlab.")]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for value in vars(importlib.import_module(name)).values():
            mod = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
            if isinstance(mod, str) and mod.startswith("ganlab.") and mod not in seen:
                todo.append(mod)
    return seen


def test_each_train_stage_depends_on_every_module_its_variant_uses():
    train = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["train"]
    stage = train["do"]
    for run_name, run in load_params(ROOT / "params.yaml").models.items():
        item = {**train["foreach"][run_name], "data": run.data}  # the item's data is read from params.yaml
        deps = expand_code_deps([re.sub(r"\$\{item\.(\w+)\}", lambda m: item[m.group(1)], d) for d in stage["deps"]],
                                ROOT)
        for module in modules_used(registry.get(run.variant)) | {"ganlab.train.run", "ganlab.train.trainer"}:
            path = Path("src", *module.split(".")).with_suffix(".py").as_posix()
            covered = any(path == d or path.startswith(d.rstrip("/") + "/") for d in deps)
            assert covered, f"train@{run_name} runs {module} ({path}) but dvc.yaml does not list it as a dependency"


def test_train_stage_reads_only_its_own_params_section():
    stage = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["train"]
    # one item per run of params.yaml (`ganlab pipeline` writes them), each reading models.<run> alone
    assert list(stage["foreach"]) == list(load_params(ROOT / "params.yaml").models)
    assert stage["do"]["params"] == ["models.${key}"]


# --------------------------------------------------------------------------- dvc repro in a scratch project


def run(args: list[str], cwd: Path) -> str:
    return run_in(args, cwd, OMP_NUM_THREADS="1")


PARAMS = """seed: 0
toy: {mu: 4.0, sigma: 1.25, n: 500}
toy2d: {ring: {n: 500}, grid: {n: 500}}
models:
  gan-toy:
    variant: gan
    data: toy-gaussian
    model: {arch: affine, z_dim: 1}
    train: {steps: 20, batch_size: 16, log_every: 5, checkpoint_every: 10, sample_every: 10}
  dcgan:
    variant: dcgan
    data: mnist
    model: {width: WIDTH}
    train: {steps: STEPS, batch_size: 8, log_every: 1, checkpoint_every: 2, sample_every: 2, n_samples: 4}
"""


def write_params(project: Path, steps: int = 2, width: int = 4) -> None:
    (project / "params.yaml").write_text(PARAMS.replace("STEPS", str(steps)).replace("WIDTH", str(width)))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The real toy and train stages, a 40-image stand-in for MNIST, two tiny runs."""
    from ganlab.data.datasets import write_content
    from ganlab.data.formats import ImageData, ImageSplit

    dst = scratch_project(tmp_path / "project", ["toy", "train"])
    rng = np.random.default_rng(0)
    split = ImageSplit(rng.integers(0, 256, (40, 28, 28, 1), dtype=np.uint8), rng.integers(0, 10, 40))
    (dst / "data" / "mnist").mkdir(parents=True)
    info = write_content(ImageData({"train": split}, [str(k) for k in range(10)]), dst / "data" / "mnist")
    (dst / "data" / "mnist" / "dataset.json").write_text(json.dumps({"name": "mnist", **info}))
    write_params(dst)
    run(["git", "add", "-A"], dst)  # dvclive reads the git revision: a clone always has one
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "scratch"], dst)
    return dst


def test_repro_trains_every_run_then_reruns_only_the_changed_one(project):
    first = run(["dvc", "repro"], project)
    assert "Running stage 'train@gan-toy'" in first and "Running stage 'train@dcgan'" in first
    out = project / "data" / "models" / "dcgan"
    assert {p.name for p in out.iterdir()} >= {"checkpoint.pt", "generator.pt", "samples", "dvclive",
                                               "train_summary.json"}
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step_0000002.png"]
    assert (project / "data" / "models" / "gan-toy" / "samples" / "histogram.png").exists()
    assert "Running stage" not in run(["dvc", "repro"], project)

    # more steps for one run: only its stage re-runs, and it continues from its checkpoint
    write_params(project, steps=4)
    second = run(["dvc", "repro"], project)
    assert "Running stage 'train@dcgan'" in second and "Running stage 'train@gan-toy'" not in second
    assert "resumed from" in second and "at step 2" in second
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step_0000002.png", "step_0000004.png"]
    metrics = json.loads((out / "dvclive" / "metrics.json").read_text())
    assert metrics["step"] == 4
    # DVC keeps train_summary.json (persist), so the resumed stage carries on the first part's history
    summary = json.loads((out / "train_summary.json").read_text())
    assert [row["step"] for row in summary["history"]] == [1, 2, 3, 4]

    # another architecture: the old checkpoint does not fit, the run starts over, old grids go
    write_params(project, steps=4, width=8)
    third = run(["dvc", "repro"], project)
    assert "starting over" in third and "resumed from" not in third
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step_0000002.png", "step_0000004.png"]
    assert json.loads((out / "train_summary.json").read_text())["history"][0]["step"] == 1  # a fresh history

    # metrics and plots are visible to dvc
    shown = run(["dvc", "metrics", "show", "--json"], project)
    assert "loss_d" in shown


def test_unknown_run_is_named(project):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run([sys.executable, "stages/train.py", "dcgna"], cwd=project, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "unknown key 'models.dcgna' (did you mean 'dcgan'?)" in proc.stderr
