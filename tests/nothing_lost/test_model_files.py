"""Nothing lost (issue 26): hostile or damaged model files and bad `ganlab sample` options, through the command line.

Each case runs the command as a person would, and checks three things: exit code 2, one error line that names
the problem, and that nothing was lost or half-written (the file given is unchanged, a refused --out is
untouched or not created, a refused resume leaves the run's folder as it was).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
import torch
from helpers import flipped, read_only_folder, zip_regions
from tiny_variants import build
from typer.testing import CliRunner

from ganlab.cli import app
from ganlab.data.config import ToyParams
from ganlab.data.toy import write_toy
from ganlab.runs import RunDir
from ganlab.train.trainer import TrainConfig, Trainer

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    """A real run folder: a DCGAN (width 8, 28 px) trained 2 steps, with its checkpoint.pt and generator.pt."""
    out = tmp_path_factory.mktemp("run")
    x = torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    Trainer(build("dcgan", width=8), x, None, TrainConfig(steps=2, batch_size=8, n_samples=4, sample_every=2,
                                                           checkpoint_every=2, dvclive=False), out).fit(progress=False)
    return RunDir(out)


@pytest.fixture
def run(trained: RunDir, tmp_path: Path) -> RunDir:
    """A copy of the trained run for one test to spoil."""
    return RunDir(shutil.copytree(trained.root, tmp_path / "run"))


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes, but the run folder's lock file (ganlab.files.folder_lock),
    which a refused ``ganlab train`` takes before it reads the checkpoint."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != ".lock"}


def refused(args: list[str], caplog: pytest.LogCaptureFixture, *needles: str) -> str:
    """Run ganlab with ``args``; it must exit 2 with one error line that holds every needle. Returns the line."""
    caplog.clear()
    with caplog.at_level(logging.INFO):
        result = runner.invoke(app, args)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert result.exit_code == 2, (result.output, errors)
    assert len(errors) == 1 and "\n" not in errors[0], errors
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def sample(model: Path | str, out: Path, *options: str) -> list[str]:
    return ["sample", str(model), "--out", str(out), *options]


# --------------------------------------------------------------------------- generator.pt given to `ganlab sample`


def test_a_generator_whose_config_asks_for_a_million_wide_network_is_refused(run, tmp_path, caplog):
    state = torch.load(run.generator, weights_only=True)
    state["config"]["width"] = 1_000_000  # 39 GB of generator from a file of a few hundred KB
    torch.save(state, run.generator)
    before = run.generator.read_bytes()
    refused(sample(run.generator, tmp_path / "grid.png"), caplog,
            f"{run.generator}: config.width = 1000000 is out of range; allowed: 1 <= value <= 1024")
    assert run.generator.read_bytes() == before and not (tmp_path / "grid.png").exists()


def test_a_generator_whose_weights_do_not_fit_its_config_is_refused_before_allocation(run, tmp_path, caplog):
    state = torch.load(run.generator, weights_only=True)
    state["config"]["width"] = 1024  # within the bound, but 128 x the weights the file holds
    torch.save(state, run.generator)
    before = run.generator.read_bytes()
    refused(sample(run.generator, tmp_path / "grid.png"), caplog,
            f"{run.generator}: roles.generator.1.weight has shape (100, 16, 7, 7) in the file, the config builds "
            "(100, 2048, 7, 7)")
    assert run.generator.read_bytes() == before and not (tmp_path / "grid.png").exists()


def test_a_checkpoint_given_to_sample_is_named_as_one(run, tmp_path, caplog):
    before = snapshot(run.root)
    refused(sample(run.checkpoint, tmp_path / "grid.png"), caplog,
            f"{run.checkpoint} is a checkpoint, not a generator file; sample from {run.generator}")
    assert snapshot(run.root) == before and not (tmp_path / "grid.png").exists()


def test_a_torch_file_that_is_no_generator_is_refused(tmp_path, caplog):
    torch.save({"foo": 1}, tmp_path / "foo.pt")
    refused(sample(tmp_path / "foo.pt", tmp_path / "grid.png"), caplog,
            "foo.pt: not a readable generator file (it has no variant, config, data, step, roles; it has foo)")
    assert torch.load(tmp_path / "foo.pt", weights_only=True) == {"foo": 1} and not (tmp_path / "grid.png").exists()


@pytest.mark.parametrize("region", ["local header signature", "local header time (no CRC covers it)",
                                    "alignment padding", "tensor data", "central directory attributes", "last byte"])
def test_a_generator_with_a_flipped_byte_is_refused(run, tmp_path, caplog, region):
    bad = flipped(run.generator, zip_regions(run.generator)[region], tmp_path / "generator.pt")
    before = bad.read_bytes()
    line = refused(sample(bad, tmp_path / "grid.png"), caplog, f"{bad}: damaged file (",
                   "its bytes changed after it was written")
    if region == "tensor data":
        assert "(zip CRC check failed for member archive/data/" in line
    assert bad.read_bytes() == before and not (tmp_path / "grid.png").exists()


# --------------------------------------------------------------------------- checkpoint.pt that `ganlab train` resumes from


@pytest.fixture
def toy(tmp_path: Path) -> tuple[Path, Path]:
    """(params.yaml, data root) of a 1-D toy GAN, the fastest run `ganlab train` has."""
    write_toy(ToyParams(n=200), tmp_path / "data" / "toy-gaussian")
    params = tmp_path / "params.yaml"
    params.write_text("models:\n  t:\n    variant: gan\n    data: toy-gaussian\n    model: {arch: affine, z_dim: 1}\n"
                      "    train: {steps: 1000, batch_size: 8, log_every: 1}\n")
    return params, tmp_path / "data"


def train(toy: tuple[Path, Path], out: Path, steps: int) -> list[str]:
    params, data = toy
    return ["train", "t", "--params", str(params), "--data-root", str(data), "--steps", str(steps), "--out", str(out)]


def test_a_torch_file_without_a_checkpoints_keys_is_not_resumed(toy, tmp_path, caplog):
    out = tmp_path / "out"
    out.mkdir()
    torch.save({"foo": 1}, RunDir(out).checkpoint)
    before = snapshot(out)
    refused(train(toy, out, 3), caplog, f"{RunDir(out).checkpoint}: not a readable checkpoint (it has no step, "
            "variant, model, rng; it has foo); the run was kept: pass --restart to replace it")
    assert snapshot(out) == before


@pytest.mark.parametrize("region", ["local header time (no CRC covers it)", "tensor data",
                                    "central directory version", "end record entry count"])
def test_a_checkpoint_with_a_flipped_byte_is_not_resumed(toy, tmp_path, caplog, region):
    out = tmp_path / "out"
    assert runner.invoke(app, train(toy, out, 3)).exit_code == 0
    checkpoint = RunDir(out).checkpoint
    flipped(checkpoint, zip_regions(checkpoint)[region], checkpoint)
    before = snapshot(out)
    refused(train(toy, out, 6), caplog, f"{checkpoint}: damaged file (", "; the run was kept: pass --restart to replace it")
    assert snapshot(out) == before  # no silent resume, and nothing of the run removed


def test_a_generator_file_in_place_of_the_checkpoint_is_not_resumed(toy, tmp_path, caplog):
    out = tmp_path / "out"
    assert runner.invoke(app, train(toy, out, 3)).exit_code == 0
    shutil.copyfile(RunDir(out).generator, RunDir(out).checkpoint)
    before = snapshot(out)
    refused(train(toy, out, 6), caplog,
            f"{RunDir(out).checkpoint} is a generator file, not a checkpoint; the run was kept: pass --restart to replace it")
    assert snapshot(out) == before


# --------------------------------------------------------------------------- `ganlab sample`'s options


@pytest.mark.parametrize("options, message", [
    (["--interpolate", "--steps", "0"], "--steps = 0 is out of range with --interpolate; allowed: 2 <= steps <= 1024"),
    (["--n", "1000000"], "--n = 1000000 is out of range; allowed: 1 <= n <= 1024"),
    (["--n", "0"], "--n = 0 is out of range; allowed: 1 <= n <= 1024"),
    (["--interpolate", "--mode", "cubic"], "--mode = 'cubic' is not allowed; choose one of: lerp, slerp"),
    (["--seed", "-1"], "--seed = -1 is out of range; allowed: 0 <= seed < 2**63"),
])
def test_sample_options_out_of_range_are_refused(run, tmp_path, caplog, options, message):
    refused(sample(run.generator, tmp_path / "grid.png", *options), caplog, message)
    assert not (tmp_path / "grid.png").exists()


def test_an_out_in_a_missing_folder_is_refused_and_the_folder_not_made(run, tmp_path, caplog):
    out = tmp_path / "missing" / "grid.png"
    refused(sample(run.generator, out), caplog, f"--out {out}: its folder {out.parent} does not exist; create it first")
    assert not out.parent.exists()


def test_an_out_in_a_read_only_folder_is_refused(run, tmp_path, caplog, monkeypatch):
    locked = read_only_folder(tmp_path / "locked", monkeypatch)
    refused(sample(run.generator, locked / "grid.png"), caplog, f"its folder {locked} is not writable")
    locked.chmod(0o755)
    assert list(locked.iterdir()) == []


def test_an_out_that_is_a_folder_is_refused_and_left_alone(run, tmp_path, caplog):
    folder = tmp_path / "grids.png"
    folder.mkdir()
    (folder / "mine.txt").write_text("keep")
    refused(sample(run.generator, folder), caplog, f"--out {folder} is a folder")
    assert snapshot(folder) == {"mine.txt": b"keep"}


def test_an_out_that_is_not_a_png_is_refused_and_left_alone(run, tmp_path, caplog):
    notes = tmp_path / "notes.png"
    notes.write_text("my notes, not a picture")
    refused(sample(run.generator, notes), caplog, f"--out {notes} exists and is not a PNG")
    assert notes.read_text() == "my notes, not a picture"
    text = tmp_path / "notes.txt"
    text.write_text("mine")
    refused(sample(run.generator, text), caplog, f"--out {text}: the grid is a PNG; give a path ending in .png")
    assert text.read_text() == "mine"


def test_an_existing_png_is_replaced(run, tmp_path):
    out = tmp_path / "grid.png"
    out.write_bytes(b"\x89PNG\r\n\x1a\n an older grid")
    result = runner.invoke(app, sample(run.generator, out, "--n", "4"))
    assert result.exit_code == 0, result.output
    assert out.read_bytes() != b"\x89PNG\r\n\x1a\n an older grid" and out.read_bytes().startswith(b"\x89PNG")


def test_a_model_that_names_nothing_names_where_it_looked(tmp_path, caplog, monkeypatch):
    monkeypatch.chdir(tmp_path)
    refused(["sample", "nothing"], caplog,
            "nothing: no generator there (no file or folder nothing, no run's data/models/nothing/generator.pt)")
    refused(["sample", "gone/generator.pt"], caplog, "gone/generator.pt: no generator there (no file or folder "
            "gone/generator.pt)")
    (tmp_path / "empty").mkdir()
    refused(["sample", "empty"], caplog, "empty: a folder without a generator file (looked for empty/generator.pt)")
    assert not (tmp_path / "grid.png").exists()
