"""`dvc repro` of the fetch stages in a scratch copy of the project (needs the mirror)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import run_in, scratch_project

ROOT = Path(__file__).resolve().parents[1]
MIRROR = os.environ.get("GANLAB_DATA_MIRROR")
pytestmark = [
    pytest.mark.mirror,
    pytest.mark.skipif(not MIRROR or not Path(MIRROR).is_dir(), reason="GANLAB_DATA_MIRROR is not set to a folder"),
]


def run(args: list[str], cwd: Path) -> str:
    return run_in(args, cwd, GANLAB_DATA_MIRROR=str(Path(MIRROR).resolve()))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The real fetch stages, with params trimmed to the two quickest datasets."""
    dst = scratch_project(tmp_path / "project", ["fetch"])
    (dst / "params.yaml").write_text("seed: 0\ndata:\n  mnist:\n    variant: auto\n  coco-captions:\n    variant: auto\n")
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
