"""Issue 26, "nothing lost": bad folder and archive inputs, image bombs and bad options, through the command line.

Each reproduced case either exits 2 with one line naming the problem, or, where the run can go on
without the bad file, leaves it out and records why. Either way the input is as it was and an --out
folder from before is untouched when the command fails.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import resource
import stat
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from helpers import image_bytes, png_claiming, zip_bytes
from typer.testing import CliRunner

import ganlab
from ganlab.cli import app
from ganlab.data import archives

MiB = 2**20
runner = CliRunner()


# --------------------------------------------------------------------------- what every case checks


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under ``root`` by lstat: regular files by their bytes' digest, links by target,
    anything else by its type. Only regular files are opened (a FIFO would block this too)."""
    if root.is_file():
        return {root.name: ("file", hashlib.sha256(root.read_bytes()).hexdigest())}
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):  # os.walk does not follow links
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            st = os.lstat(path)
            rel = path.relative_to(root).as_posix()
            if stat.S_ISREG(st.st_mode):
                out[rel] = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
            elif stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(path))
            else:
                out[rel] = ("type", stat.S_IFMT(st.st_mode))
    return out


@pytest.fixture
def previous_out(tmp_path: Path) -> Path:
    """An --out folder holding an earlier run's output, which a failed run must leave as it is."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "dataset.json").write_text('{"name": "from an earlier run"}')
    (out / "train.npz").write_bytes(b"earlier arrays")
    return out


@pytest.fixture(autouse=True)
def _no_hang(no_hang):
    """Every case here: a reader that opens a FIFO blocks for ever (conftest.py's no_hang fails it instead)."""


def fails(args: list[str], source: Path, out: Path, caplog: pytest.LogCaptureFixture) -> str:
    """Run the command; check exit 2, one error line, input and earlier output unchanged; return the line."""
    before_in, before_out = snapshot(source), snapshot(out)
    caplog.clear()
    result = runner.invoke(app, args)
    assert result.exit_code == 2, (result.output, result.exception)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "\n" not in errors[0], errors
    assert "Traceback" not in result.output
    assert snapshot(source) == before_in, "the input changed"
    assert snapshot(out) == before_out, "the earlier --out was touched"
    return errors[0]


def commands(source: Path, out: Path) -> dict[str, list[str]]:
    """The three commands that read a user's folder or archive."""
    return {
        "fetch": ["fetch", "--from", str(source), "--name", "mine", "--out", str(out)],
        "faces": ["faces", str(source), "--out", str(out), "--workers", "1"],
        "dedup": ["dedup", str(source), "--out", str(out)],
    }


def photo(rng: np.random.Generator, h: int = 40, w: int = 48) -> bytes:
    return image_bytes(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "JPEG")


def spy_on_opens(monkeypatch: pytest.MonkeyPatch, root: Path) -> list[str]:
    """The names of the files under ``root`` that anything opens from now on (os.open, as the readers do)."""
    opened: list[str] = []
    real_open = os.open

    def spy(path, *args, **kwargs):
        if Path(path).is_relative_to(root):
            opened.append(Path(path).name)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(archives.os, "open", spy)
    return opened


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(26)


def photo_folder(tmp_path: Path, rng: np.random.Generator) -> Path:
    src = tmp_path / "photos"
    (src / "ann").mkdir(parents=True)
    (src / "ann" / "1.jpg").write_bytes(photo(rng))
    (src / "ann" / "2.jpg").write_bytes(photo(rng, 48, 40))
    return src


# --------------------------------------------------------------------------- 4: folders hold regular files only


@pytest.mark.parametrize("command", ["fetch", "faces", "dedup"])
def test_a_named_pipe_in_the_folder_is_refused_not_opened(command, tmp_path, rng, previous_out, caplog):
    src = photo_folder(tmp_path, rng)
    os.mkfifo(src / "ann" / "3.jpg")
    line = fails(commands(src, previous_out)[command], src, previous_out, caplog)
    assert "'ann/3.jpg' is a named pipe (FIFO), not a regular file; refusing to read the folder" in line


@pytest.mark.parametrize("command", ["fetch", "faces", "dedup"])
def test_a_link_to_dev_zero_is_refused_not_read(command, tmp_path, rng, previous_out):
    src = photo_folder(tmp_path, rng)
    (src / "ann" / "zero.jpg").symlink_to("/dev/zero")
    before_in, before_out = snapshot(src), snapshot(previous_out)
    # in a process of its own, capped at 4 GB: a reader that followed the link would fill all memory
    cap = lambda: resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, 4 * 2**30))  # noqa: E731
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(ganlab.__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-m", "ganlab.cli", *commands(src, previous_out)[command]],
                            capture_output=True, text=True, timeout=120, preexec_fn=cap, env=env)
    errors = [line for line in result.stderr.splitlines() if " ERROR " in line]
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert len(errors) == 1 and "'ann/zero.jpg' is a symbolic link to '/dev/zero'; refusing to read the folder" in errors[0]
    assert snapshot(src) == before_in and snapshot(previous_out) == before_out


@pytest.mark.parametrize("command", ["fetch", "faces", "dedup"])
def test_a_link_to_a_file_outside_the_folder_is_refused(command, tmp_path, rng, previous_out, caplog):
    secret = tmp_path / "elsewhere" / "secret.jpg"
    secret.parent.mkdir()
    secret.write_bytes(photo(rng))
    src = photo_folder(tmp_path, rng)
    (src / "ann" / "3.jpg").symlink_to(secret)
    line = fails(commands(src, previous_out)[command], src, previous_out, caplog)
    assert f"'ann/3.jpg' is a symbolic link to '{secret}'" in line
    assert secret.read_bytes() == photo(np.random.default_rng(26))


def test_a_big_non_image_file_in_the_folder_is_never_opened(tmp_path, rng, monkeypatch):
    src = photo_folder(tmp_path, rng)
    with open(src / "holiday.mp4", "wb") as fh:
        fh.truncate(1536 * MiB)  # 1.5 GB, sparse on disk
    opened = spy_on_opens(monkeypatch, src)
    before = snapshot(src)
    result = runner.invoke(app, ["fetch", "--from", str(src), "--name", "mine", "--out", str(tmp_path / "new")])
    assert result.exit_code == 0, result.output
    assert "holiday.mp4" not in opened and sorted(opened) == ["1.jpg", "1.jpg", "2.jpg", "2.jpg"]  # read, digested
    assert json.loads((tmp_path / "new" / "dataset.json").read_text())["counts"] == {"all": 2}
    assert snapshot(src) == before


def test_faces_rejects_a_big_file_by_its_size_without_opening_it(tmp_path, rng, previous_out, monkeypatch, caplog):
    src = photo_folder(tmp_path, rng)
    with open(src / "ann" / "scan.jpg", "wb") as fh:
        fh.truncate(1536 * MiB)
    opened = spy_on_opens(monkeypatch, src)
    line = fails(commands(src, previous_out)["faces"], src, previous_out, caplog)  # random noise: no face anywhere
    assert "no usable photo, no face in any of its 3 files (too-large 1, no-face 2" in line
    assert "ann/scan.jpg: 1,610,612,736 bytes, over the per-file limit of 268,435,456 bytes (MAX_MEMBER_BYTES)" in line
    assert "scan.jpg" not in opened


# --------------------------------------------------------------------------- 5: zip and tar bombs


@pytest.fixture
def one_mib_limit(monkeypatch):
    """The real limit is 256 MiB; the same code at 1 MiB keeps the bombs a few KB."""
    monkeypatch.setattr(archives, "MAX_MEMBER_BYTES", 1 * MiB)


def test_a_zip_bomb_beside_good_photos_is_left_out_and_recorded(tmp_path, rng, one_mib_limit):
    src = tmp_path / "photos.zip"
    src.write_bytes(zip_bytes({"p/ann/1.jpg": photo(rng), "p/bob/2.jpg": photo(rng), "p/bob/bomb.jpg": bytes(MiB + 1)}))
    assert src.stat().st_size < 10_000
    before = snapshot(src)
    result = runner.invoke(app, ["fetch", "--from", str(src), "--name", "mine", "--out", str(tmp_path / "new")])
    assert result.exit_code == 0, result.output
    info = json.loads((tmp_path / "new" / "dataset.json").read_text())
    assert info["counts"] == {"all": 2}
    assert info["rejected"] == [{"path": "p/bob/bomb.jpg", "reason": "too-large",
                                 "detail": "1,048,577 bytes, over the per-file limit of 1,048,576 bytes (MAX_MEMBER_BYTES)"}]
    assert snapshot(src) == before


@pytest.mark.parametrize("command", ["fetch", "faces", "dedup"])
def test_a_zip_of_only_a_bomb_is_an_error_naming_the_member(command, tmp_path, previous_out, one_mib_limit, caplog):
    src = tmp_path / "bomb.zip"
    src.write_bytes(zip_bytes({"photos/bomb.jpg": bytes(MiB + 1)}))
    line = fails(commands(src, previous_out)[command], src, previous_out, caplog)
    assert "bomb.jpg: 1,048,577 bytes, over the per-file limit of 1,048,576 bytes (MAX_MEMBER_BYTES)" in line
    assert {"fetch": "bomb.zip: no usable image, all 1 rejected", "faces": "bomb.zip: no usable photo",
            "dedup": "bomb.zip: no readable images (1 files rejected"}[command] in line


def test_a_zip_whose_header_lies_about_the_size_is_refused_at_the_real_limits(tmp_path, previous_out, caplog):
    data = bytearray(zip_bytes({"photos/a.jpg": bytes(64 * MiB)}))  # 64 MiB inflated, claiming 1,000 bytes
    struct.pack_into("<I", data, 22, 1000)
    struct.pack_into("<I", data, data.index(b"PK\x01\x02") + 24, 1000)
    src = tmp_path / "liar.zip"
    src.write_bytes(bytes(data))
    assert zipfile.ZipFile(src).infolist()[0].file_size == 1000
    line = fails(commands(src, previous_out)["fetch"], src, previous_out, caplog)
    assert "liar.zip: truncated or corrupt zip archive (BadZipFile: Bad CRC-32 for file 'photos/a.jpg')" in line


# --------------------------------------------------------------------------- 6: decompression-bomb images


@pytest.mark.parametrize("command", ["fetch", "faces", "dedup"])
def test_a_folder_of_only_a_png_bomb_is_an_error_naming_it(command, tmp_path, previous_out, caplog):
    src = tmp_path / "bombs"
    src.mkdir()
    (src / "bomb.png").write_bytes(png_claiming(50_000, 50_000))
    line = fails(commands(src, previous_out)[command], src, previous_out, caplog)
    assert "bomb.png: " in line and "image claims 2,500,000,000 pixels, over the limit of 50,000,000 (MAX_PIXELS)" in line


def test_png_bombs_beside_good_photos_are_recorded_by_fetch_and_dedup(tmp_path, rng):
    src = photo_folder(tmp_path, rng)
    (src / "ann" / "bomb.png").write_bytes(png_claiming(50_000, 50_000))
    (src / "ann" / "scan.png").write_bytes(png_claiming(12_000, 12_000))  # a real photo this size cost faces 2.6 GB
    before = snapshot(src)
    fetched = runner.invoke(app, ["fetch", "--from", str(src), "--name", "mine", "--out", str(tmp_path / "f")])
    assert fetched.exit_code == 0, fetched.output
    info = json.loads((tmp_path / "f" / "dataset.json").read_text())
    assert info["counts"] == {"all": 2}
    assert {r["path"]: r["reason"] for r in info["rejected"]} == {"ann/bomb.png": "too-large", "ann/scan.png": "too-large"}
    deduped = runner.invoke(app, ["dedup", str(src), "--out", str(tmp_path / "d")])
    assert deduped.exit_code == 0, deduped.output
    report = json.loads((tmp_path / "d" / "dedup.json").read_text())
    assert report["n_in"] == 2
    assert {r["source"]: r["detail"] for r in report["rejected"]} == {
        "ann/bomb.png": "image claims 2,500,000,000 pixels, over the limit of 50,000,000 (MAX_PIXELS)",
        "ann/scan.png": "image claims 144,000,000 pixels, over the limit of 50,000,000 (MAX_PIXELS)"}
    assert snapshot(src) == before


# --------------------------------------------------------------------------- 11: the data commands' bad options


def test_faces_with_negative_workers_is_one_line(tmp_path, rng, previous_out, caplog):
    src = photo_folder(tmp_path, rng)
    line = fails(["faces", str(src), "--out", str(previous_out), "--workers", "-1"], src, previous_out, caplog)
    assert line == "workers = -1: must be >= 0 (0 = one process per core)"


def test_faces_with_a_file_that_is_no_cascade_is_one_line_naming_it(tmp_path, rng, previous_out, caplog):
    src = photo_folder(tmp_path, rng)
    line = fails(["faces", str(src), "--out", str(previous_out), "--cascade", "/etc/passwd"], src, previous_out, caplog)
    assert line.startswith("cascade /etc/passwd: OpenCV cannot load it as a cascade XML file")


def test_dedup_of_a_dataset_without_images_is_one_line(tmp_path, previous_out, caplog):
    src = tmp_path / "empty"
    src.mkdir()
    (src / "dataset.json").write_text(json.dumps({"name": "empty", "kind": "images", "files": {}, "counts": {}}))
    line = fails(["dedup", str(src), "--out", str(previous_out)], src, previous_out, caplog)
    assert line == f"{src}: an image dataset with no splits (counts {{}}); no images to de-duplicate"


@pytest.mark.parametrize("out_before", ["absent", "earlier run"])
def test_faces_on_empty_photos_exits_2_and_writes_nothing(out_before, tmp_path, previous_out, caplog):
    src = tmp_path / "photos"
    src.mkdir()
    for name in ("a.jpg", "b.jpg", "c.png"):
        (src / name).write_bytes(b"")
    out = previous_out if out_before == "earlier run" else tmp_path / "fresh"
    line = fails(["faces", str(src), "--out", str(out), "--workers", "1"], src, out, caplog)
    assert line == (f"{src}: no usable photo, no face in any of its 3 files (unreadable 3; e.g. a.jpg: empty file (0 bytes); "
                    "b.jpg: empty file (0 bytes); c.png: empty file (0 bytes)); nothing written")
    assert not (tmp_path / "fresh").exists()
