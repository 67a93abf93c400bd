"""`dvc repro` of the fetch stages in a scratch copy of the project (needs the mirror)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
MIRROR = os.environ.get("GANLAB_DATA_MIRROR")
pytestmark = [
    pytest.mark.mirror,
    pytest.mark.skipif(not MIRROR or not Path(MIRROR).is_dir(), reason="GANLAB_DATA_MIRROR is not set to a folder"),
]


def run(args: list[str], cwd: Path) -> str:
    env = {**os.environ, "GANLAB_DATA_MIRROR": str(Path(MIRROR).resolve()), "DVC_NO_ANALYTICS": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"{args} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The real fetch stages, with params trimmed to the two quickest datasets."""
    dst = tmp_path / "project"
    dst.mkdir()
    shutil.copy(ROOT / ".dvcignore", dst / ".dvcignore")
    pipeline = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    (dst / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"fetch": pipeline["stages"]["fetch"]}}))
    shutil.copytree(ROOT / "stages", dst / "stages", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "src", dst / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (dst / "params.yaml").write_text("seed: 0\ndata:\n  mnist:\n    variant: auto\n  coco-captions:\n    variant: auto\n")
    run(["git", "init", "-q"], dst)
    run(["dvc", "init", "-q"], dst)
    run(["dvc", "config", "core.analytics", "false"], dst)
    return dst


def test_repro_then_noop_then_only_the_changed_stage(project):
    first = run(["dvc", "repro"], project)
    assert "Running stage 'fetch@mnist'" in first and "Running stage 'fetch@coco-captions'" in first
    assert (project / "data" / "mnist" / "train.npz").exists()
    assert (project / "data" / "coco-captions" / "dataset.json").exists()

    second = run(["dvc", "repro"], project)
    assert "Running stage" not in second

    # a change to one dataset's params re-runs that dataset's stage only
    (project / "params.yaml").write_text(
        "seed: 0\ndata:\n  mnist:\n    variant: auto\n  coco-captions:\n    variant: official\n"
    )
    third = run(["dvc", "repro"], project)
    assert "Running stage 'fetch@coco-captions'" in third and "Running stage 'fetch@mnist'" not in third
    assert "Running stage" not in run(["dvc", "repro"], project)
