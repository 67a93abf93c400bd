"""The ganlab command line: help everywhere, clear errors with exit code 2, real work."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import image_bytes, tar_gz
from typer.testing import CliRunner

from ganlab.cli import app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def commands() -> list[str]:
    import typer.main

    return sorted(typer.main.get_command(app).commands)


def test_top_level_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in commands():
        assert name in result.output


@pytest.mark.parametrize("command", commands())
def test_every_command_has_help(command):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_datasets_lists_variants():
    result = runner.invoke(app, ["datasets"])
    assert result.exit_code == 0
    assert "cifar10" in result.output and "jpeg-q75" in result.output and "mirror only" in result.output


def test_unknown_dataset_exits_2_with_a_message(tmp_path, caplog):
    result = runner.invoke(app, ["fetch", "cifar100", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "unknown dataset 'cifar100'" in caplog.text
    assert not (tmp_path / "x").exists()


def test_fetch_from_archive(tmp_path):
    files = {f"{split}/{c}/{i}.png": image_bytes(np.full((6, 6, 3), 40 * i, np.uint8))
             for split in ("train", "test") for c in ("a", "b") for i in range(2)}
    src = tmp_path / "mine.tar.gz"
    src.write_bytes(tar_gz(files))
    result = runner.invoke(app, ["fetch", "--from", str(src), "--name", "mine", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    info = json.loads((tmp_path / "out" / "dataset.json").read_text())
    assert info["name"] == "mine" and info["counts"] == {"train": 4, "test": 4} and info["shape"] == [6, 6, 3]


def test_fetch_from_needs_a_name(tmp_path):
    result = runner.invoke(app, ["fetch", "--from", str(tmp_path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "--name" in result.output


def test_check_params(tmp_path, caplog):
    good = runner.invoke(app, ["check-params", str(ROOT / "params.yaml")])
    assert good.exit_code == 0 and "ok" in good.output
    bad = tmp_path / "p.yaml"
    bad.write_text("seed: 0\nlearning_rate: 1\n")
    result = runner.invoke(app, ["check-params", str(bad)])
    assert result.exit_code == 2 and "unknown key 'learning_rate'" in caplog.text


def test_variants_lists_every_registered_variant():
    from ganlab.models import registry

    result = runner.invoke(app, ["variants"])
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert [line.split()[0] for line in lines] == registry.names()
    assert all(len(line.split()) > 3 for line in lines)  # each with a description


def test_train_command_runs_one_run_with_overrides(tmp_path):
    import json

    from ganlab.data.toy import write_toy
    from ganlab.data.config import ToyParams

    write_toy(ToyParams(n=200), tmp_path / "data" / "toy-gaussian")
    params = tmp_path / "params.yaml"
    params.write_text("models:\n  t:\n    variant: gan\n    data: toy-gaussian\n    model: {arch: affine, z_dim: 1}\n"
                      "    train: {steps: 1000, batch_size: 8, log_every: 1}\n")
    result = runner.invoke(app, ["train", "t", "--params", str(params), "--data-root", str(tmp_path / "data"),
                                 "--steps", "3", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "out" / "train_summary.json").read_text())
    assert summary["step"] == 3 and summary["finished"] and "w" in summary
    assert (tmp_path / "out" / "samples" / "histogram.png").exists()

    result = runner.invoke(app, ["train", "t", "--params", str(params), "--data-root", str(tmp_path / "data"),
                                 "--steps", "0"])
    assert result.exit_code == 2
    result = runner.invoke(app, ["train", "nope", "--params", str(params), "--data-root", str(tmp_path / "data")])
    assert result.exit_code == 2


@pytest.mark.parametrize("size, message", [
    ("-8", "models.f.train.image_size = -8 is out of range; allowed: 0 <= value <= 16384"),  # when read
    ("32", "models.f.train.image_size = 32: faces's images are 16 px; image_size only shrinks them"),  # when loaded
])
def test_train_refuses_a_bad_image_size_in_one_line_with_exit_2(tmp_path, caplog, size, message):
    from ganlab.data.datasets import write_content
    from ganlab.data.formats import ImageData, ImageSplit

    root = tmp_path / "data" / "faces"
    root.mkdir(parents=True)
    x = np.random.default_rng(0).integers(0, 256, (8, 16, 16, 1), dtype=np.uint8)
    info = write_content(ImageData({s: ImageSplit(x, np.zeros(8, dtype=np.int64)) for s in ("train", "test")},
                                   ["face"]), root)
    (root / "dataset.json").write_text(json.dumps({"name": "faces", **info}))
    params = tmp_path / "params.yaml"
    params.write_text("models:\n  f:\n    variant: dcgan\n    data: faces\n    model: {width: 4}\n"
                      f"    train: {{steps: 2, batch_size: 4, image_size: {size}}}\n")
    result = runner.invoke(app, ["train", "f", "--params", str(params), "--data-root", str(tmp_path / "data"),
                                 "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and message in errors[0] and "\n" not in errors[0], errors
    assert not (tmp_path / "out").exists()


def test_claims_keep_only_one_claim_records_its_command_and_an_unknown_one_exits_2(tmp_path, monkeypatch, caplog):
    claims = tmp_path / "reports" / "claims"
    claims.mkdir(parents=True)
    for cid in ("alpha", "beta"):
        (claims / f"{cid}.json").write_text(json.dumps({"claim": cid, "verdict": "reproduced", "seeds": [0, 1, 2]}))
        (claims / f"{cid}.png").write_bytes(b"png")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["claims", "--keep", "kept", "--only", "beta", "--command", "dvc repro claim@beta"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "kept").iterdir()) == ["beta.json", "beta.png", "provenance.json"]
    prov = json.loads((tmp_path / "kept" / "provenance.json").read_text())["claims"]
    assert list(prov) == ["beta"] and prov["beta"]["command"] == "dvc repro claim@beta"
    result = runner.invoke(app, ["claims", "--keep", "kept", "--only", "gamma"])
    assert result.exit_code == 2 and "gamma" in caplog.text
