"""Issue 26, case 1 and the output parts of case 11: an output path is replaced only when it is missing, empty
or a folder ganlab wrote (its dataset.json); anything else, and the input itself, is refused in one line with
exit 2 and left exactly as it was."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from helpers import image_bytes
from typer.testing import CliRunner

from ganlab.cli import app

runner = CliRunner()


def tree(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (None for a folder): what 'nothing was lost' compares."""
    return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None)
            for p in sorted(root.rglob("*"))}


def photos(root: Path, n: int = 3) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (root / f"p{i}.png").write_bytes(image_bytes(np.full((8, 8, 3), 60 * i, np.uint8)))
    return root


def run(*args: str | Path):
    return runner.invoke(app, [str(a) for a in args])


def one_error_line(caplog) -> str:
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "\n" not in errors[0], errors
    return errors[0]


def test_fetch_refuses_an_out_folder_of_a_users_documents(tmp_path, caplog):
    (tmp_path / "V" / "docs").mkdir(parents=True)
    (tmp_path / "V" / "docs" / "thesis.txt").write_text("x")
    before = tree(tmp_path / "V")
    result = run("fetch", "--from", photos(tmp_path / "good"), "--name", "t", "--out", tmp_path / "V")
    assert result.exit_code == 2
    assert f"{tmp_path / 'V'}: holds files ganlab did not write (docs: no dataset.json)" in one_error_line(caplog)
    assert tree(tmp_path / "V") == before


@pytest.mark.parametrize("command", ["fetch", "faces", "dedup"])
def test_an_output_that_is_the_input_is_refused_and_the_input_kept(command, tmp_path, caplog):
    src = photos(tmp_path / "photos")
    before = tree(src)
    args = {"fetch": ["fetch", "--from", src, "--name", "p", "--out", src],
            "faces": ["faces", src, "--out", src], "dedup": ["dedup", src, "--out", src]}[command]
    result = run(*args)
    assert result.exit_code == 2
    assert f"{src}: is the input {src} or holds it" in one_error_line(caplog)
    assert tree(src) == before


def test_an_output_inside_the_input_or_holding_it_is_refused(tmp_path, caplog):
    src = photos(tmp_path / "in" / "photos")
    before = tree(tmp_path / "in")
    assert run("fetch", "--from", src, "--name", "p", "--out", src / "ds").exit_code == 2
    assert "lies inside the input" in caplog.text
    assert run("dedup", src, "--out", tmp_path / "in").exit_code == 2
    assert tree(tmp_path / "in") == before


def test_a_plain_file_at_the_output_path_is_refused(tmp_path, caplog):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    result = run("fetch", "--from", photos(tmp_path / "good"), "--name", "t", "--out", target)
    assert result.exit_code == 2 and "exists and is not a folder" in one_error_line(caplog)
    assert target.read_text() == "mine"


def test_a_dataset_ganlab_wrote_is_replaced_atomically(tmp_path):
    out = tmp_path / "ds"
    assert run("fetch", "--from", photos(tmp_path / "a", 2), "--name", "a", "--out", out).exit_code == 0
    assert run("fetch", "--from", photos(tmp_path / "b", 3), "--name", "b", "--out", out).exit_code == 0
    assert json.loads((out / "dataset.json").read_text())["name"] == "b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "ds"]  # no temporary or old folder left


def test_a_missing_parent_is_created_and_an_impossible_one_refused(tmp_path, caplog):
    good = photos(tmp_path / "good")
    assert run("fetch", "--from", good, "--name", "t", "--out", tmp_path / "new" / "deeper" / "ds").exit_code == 0
    (tmp_path / "file").write_text("x")
    result = run("fetch", "--from", good, "--name", "t", "--out", tmp_path / "file" / "ds")
    assert result.exit_code == 2 and "cannot create its folder" in one_error_line(caplog)
    assert (tmp_path / "file").read_text() == "x"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_a_read_only_parent_is_refused_in_one_line(tmp_path, caplog):
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        result = run("fetch", "--from", photos(tmp_path / "good"), "--name", "t", "--out", parent / "ds")
    finally:
        parent.chmod(0o755)
    assert result.exit_code == 2 and "cannot write in" in one_error_line(caplog)
    assert list(parent.iterdir()) == []


def test_out_dot_is_refused_and_leaves_no_temporary_folder(tmp_path, monkeypatch, caplog):
    work = tmp_path / "work"
    work.mkdir()
    (work / "mine.txt").write_text("x")
    good = photos(tmp_path / "good")
    monkeypatch.chdir(work)
    result = run("fetch", "--from", good, "--name", "t", "--out", ".")
    assert result.exit_code == 2 and "holds the folder ganlab runs in" in one_error_line(caplog)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good", "work"]  # no '..xxxx.tmp' beside it
    assert tree(work) == {"mine.txt": b"x"}


def test_a_parent_refusing_writes_is_one_line_even_as_root(tmp_path, monkeypatch, caplog):
    """The same refusal where permissions cannot be taken away (tests run as root): the OS refuses the temporary
    folder as a read-only parent would."""
    import ganlab.files

    def refuse(**kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(ganlab.files.tempfile, "mkdtemp", refuse)
    result = run("fetch", "--from", photos(tmp_path / "good"), "--name", "t", "--out", tmp_path / "ro" / "ds")
    assert result.exit_code == 2
    assert f"{tmp_path / 'ro' / 'ds'}: cannot write in {tmp_path / 'ro'} (Permission denied)" in one_error_line(caplog)
