"""The project's own DVC files: every run is an artifact in dvc.yaml, and .dvc/config names a default remote."""

from __future__ import annotations

from pathlib import Path

import yaml

from ganlab.params import load_params


def test_every_run_is_an_artifact_named_after_it() -> None:
    root = Path(__file__).resolve().parents[1]
    artifacts = yaml.safe_load((root / "dvc.yaml").read_text())["artifacts"]
    models = load_params(root / "params.yaml").models
    assert set(artifacts) == set(models)
    for run, artifact in artifacts.items():
        assert artifact["path"] == f"data/models/{run}/generator.pt" and artifact["type"] == "model"
        assert models[run].variant in artifact["labels"] and models[run].data in artifact["labels"]


def test_the_project_has_a_default_local_remote() -> None:
    import configparser

    root = Path(__file__).resolve().parents[1]
    config = configparser.ConfigParser()
    config.read(root / ".dvc" / "config")
    assert config["core"]["remote"] == "local"
    assert config["'remote \"local\"'"]["url"] == "../../ganlab-storage"  # beside the clone, relative to .dvc/
