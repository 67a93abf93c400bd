"""Hostile or mistaken params files, through the command line: each is one line naming the file, the key or the
place, the value and what is allowed, with exit code 2, and nothing is written (issue 26, "Nothing lost").

Every case runs `ganlab check-params` or `ganlab train` as a user would; the reader's own tests are in
tests/test_params.py.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from ganlab.cli import app

runner = CliRunner()
GOOD_RUN = "    variant: gan\n    data: toy-gaussian\n    model: {arch: affine, z_dim: 1}\n    train: {steps: 3, batch_size: 8}\n"


def alias_bomb(levels: int = 9) -> str:
    """The "billion laughs" in YAML: each level lists the previous one nine times, so some 330 bytes stand
    for 9**9 (387 million) strings once the aliases are expanded."""
    lines = ["seed:", "  a: &a [x,x,x,x,x,x,x,x,x]"]
    for prev, name in zip("abcdefghijk", "bcdefghijk"[:levels - 1]):
        lines.append(f"  {name}: &{name} [{','.join([f'*{prev}'] * 9)}]")
    return "\n".join(lines) + "\n"


def files_under(folder: Path) -> dict[Path, bytes | None]:
    """Every file (its bytes) and folder (None) under ``folder``: what a refused command must leave as it was."""
    return {p: (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


def refused(args: list[str], caplog: pytest.LogCaptureFixture, root: Path) -> str:
    """Run ``ganlab ARGS``; check exit 2, one error line and no file written or changed under ``root``; the line."""
    before = files_under(root)
    with caplog.at_level(logging.ERROR):
        result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "\n" not in errors[0], errors
    assert "Traceback" not in result.output
    assert files_under(root) == before  # the params file unchanged, no folder made anywhere
    return errors[0]


def check_params(tmp_path: Path, text: str | bytes, caplog: pytest.LogCaptureFixture) -> tuple[Path, str]:
    path = tmp_path / "params.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path, refused(["check-params", str(path)], caplog, tmp_path)


# --------------------------------------------------------------------------- YAML that params files refuse


def test_an_alias_bomb_is_refused_at_the_first_alias_before_it_expands(tmp_path, caplog):
    text = alias_bomb()
    assert len(text) < 400 and text.count("*") == 72
    path, message = check_params(tmp_path, text, caplog)
    # line 3 is `  b: &b [*a, ...`: the first alias, at column 10
    assert message == (f"{path}, line 3, column 10: YAML alias *a is not allowed: params files take no anchors (&) "
                       "or aliases (*); write the value out where it is used")


def test_a_duplicate_key_is_refused_naming_both_lines(tmp_path, caplog):
    path, message = check_params(tmp_path, "models:\n  g:\n" + GOOD_RUN + "    train: {steps: 5}\n", caplog)
    assert message.startswith(f"{path}, line 7, column 5: key 'train' appears twice in one mapping, on line 6 and "
                              "line 7; DVC refuses a duplicate key")


# --------------------------------------------------------------------------- values that used to crash a run


@pytest.mark.parametrize("written, shown", [(".nan", "nan"), (".inf", "inf"), ("-.inf", "-inf")])
def test_a_learning_rate_that_is_not_a_finite_number_is_refused(tmp_path, caplog, written, shown):
    text = f"models:\n  g:\n    variant: gan\n    model: {{lr: {written}}}\n"
    path, message = check_params(tmp_path, text, caplog)
    assert message.startswith(f"{path}: models.g.model.lr = {shown} must be a finite number (")
    assert message.endswith(".nan, .inf and -.inf are not")


def test_a_device_that_is_not_a_device_name_is_refused(tmp_path, caplog):
    path, message = check_params(tmp_path, "models:\n  g:\n    variant: gan\n    train: {device: gpu9}\n", caplog)
    assert message == (f"{path}: models.g.train.device = 'gpu9' is not allowed; use one of: auto, cpu, cuda, "
                       "cuda:N (N = 0, 1, ...), mps")


def test_a_long_value_is_cut_in_the_message(tmp_path, caplog):
    path, message = check_params(tmp_path, "models:\n  g:\n    variant: gan\n    train: {device: " + "x" * 100_000 + "}\n",
                                 caplog)
    assert message.startswith(f"{path}: models.g.train.device = 'xxx") and "...x" in message
    assert len(message) < len(str(path)) + 200


# --------------------------------------------------------------------------- names that become paths


def test_a_run_named_like_a_path_is_refused_and_trains_nowhere(tmp_path, caplog):
    # data/models/../../../x is tmp_path/p/x: outside the data root
    data_root = tmp_path / "p" / "q" / "data"
    data_root.mkdir(parents=True)
    path = tmp_path / "params.yaml"
    path.write_text("models:\n  ../../../x:\n" + GOOD_RUN)
    allowed = ("use lower-case letters, digits, '-', '_' and '.', at most 64, the first a letter or digit, no '..'")
    for args in (["check-params", str(path)], ["train", "../../../x", "--params", str(path), "--data-root", str(data_root)]):
        message = refused(args, caplog, tmp_path)
        assert message == (f"{path}: models: the name '../../../x' is not allowed (a run's name is its folder, "
                           f"data/models/<run>); {allowed}")
        caplog.clear()
    assert not (tmp_path / "p" / "x").exists()


@pytest.mark.parametrize("text, message", [
    ("models:\n  g:\n    variant: gan\n    data: ../../etc\n", "models.g.data = '../../etc': variant 'gan' trains on images; choose one of: "),
    ("data:\n  ../x: {variant: auto}\n", "unknown key 'data.../x'; allowed here: cifar10, coco-captions, "),
    ("evaluators:\n  ../x: {}\n", "evaluators.../x: an evaluator is trained on a labelled image dataset; choose one of: "),
    ("metrics: {references: {../x: mnist}}\n", "metrics.references.../x: references are image datasets"),
])
def test_a_dataset_name_with_dots_is_refused(tmp_path, caplog, text, message):
    path, line = check_params(tmp_path, text, caplog)
    assert line.startswith(f"{path}: {message}")


# --------------------------------------------------------------------------- a params path that is not a params file


def test_a_folder_is_not_a_params_file(tmp_path, caplog):
    folder = tmp_path / "params.yaml"
    folder.mkdir()
    assert refused(["check-params", str(folder)], caplog, tmp_path) == f"{folder}: is a folder, not a params file"


def test_a_params_file_that_is_not_utf8_is_named(tmp_path, caplog):
    path, message = check_params(tmp_path, "seed: 1\nmodels: {}  # caf\xe9\n".encode("latin-1"), caplog)
    assert message == f"{path}: not UTF-8 text (byte 0xe9 on line 2); a params file is UTF-8"


def test_an_empty_params_file_is_named(tmp_path, caplog):
    path, message = check_params(tmp_path, "", caplog)
    assert message == f"{path}: empty; a params file is a mapping of sections (models:, data:, ...)"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads a file whatever its mode")
def test_an_unreadable_params_file_is_named(tmp_path, caplog):
    path = tmp_path / "params.yaml"
    path.write_text("seed: 1\n")
    path.chmod(0)
    try:
        assert refused(["check-params", str(path)], caplog, tmp_path) == \
            f"{path}: cannot read the params file: permission denied"
    finally:
        path.chmod(0o644)


# --------------------------------------------------------------------------- a device this machine does not have


@pytest.mark.parametrize("gpus, here", [(0, "cpu"), (1, "cpu, cuda:0")])
def test_training_on_a_gpu_this_machine_lacks_is_refused_before_any_work(tmp_path, caplog, monkeypatch, gpus, here):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpus > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    path = tmp_path / "params.yaml"
    path.write_text("models:\n  g:\n" + GOOD_RUN)
    message = refused(["train", "g", "--params", str(path), "--data-root", str(tmp_path / "data"), "--device", "cuda:7"],
                      caplog, tmp_path)
    assert message == f"device 'cuda:7' does not exist on this machine; devices here: {here} (or auto, the first " \
                      "of cuda, mps, cpu)"
    assert not (tmp_path / "data").exists()
