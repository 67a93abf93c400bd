"""Sample grids and interpolations from a shared generator.pt, and `ganlab sample`."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from helpers import read_only_folder
from PIL import Image
from typer.testing import CliRunner

from ganlab.cli import app
from ganlab.errors import GanlabError
from ganlab.models import registry
from ganlab.models.base import DataSpec
from ganlab.report import samples
from ganlab.report.samples import check_grid_size, check_sample_options, interpolation_grid, lerp, sample_grid, slerp
from ganlab.runs import RunDir, load_generator
from ganlab.train.trainer import TrainConfig, Trainer

runner = CliRunner()


def test_slerp_keeps_the_norm_and_meets_both_ends() -> None:
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(3, 16, generator=g), torch.randn(3, 16, generator=g)
    b = b / b.norm(dim=1, keepdim=True) * a.norm(dim=1, keepdim=True)  # equal norms
    t = torch.linspace(0, 1, 5)
    s, line = slerp(a, b, t), lerp(a, b, t)
    assert s.shape == line.shape == (3, 5, 16)
    assert torch.allclose(s[:, 0], a, atol=1e-5) and torch.allclose(s[:, -1], b, atol=1e-5)
    assert torch.allclose(s.norm(dim=2), a.norm(dim=1, keepdim=True).expand(3, 5), rtol=1e-4)
    assert (line[:, 2].norm(dim=1) < a.norm(dim=1) - 1e-3).all()  # the straight line cuts inside the sphere
    same = slerp(a, a.clone(), t)  # parallel codes: no NaN, the code itself
    assert torch.allclose(same, a[:, None].expand_as(same), atol=1e-5)


def trained(tmp_path: Path, name: str, n_classes: int = 0) -> Path:
    cls = registry.get(name)
    v = cls(cls.Config(hidden=8), DataSpec((1, 8, 8), n_classes), torch.device("cpu"))
    x = torch.rand(32, 1, 8, 8) * 2 - 1
    y = torch.arange(32) % n_classes if n_classes else None
    Trainer(v, x, y, TrainConfig(steps=2, batch_size=8, n_samples=4, sample_every=2, checkpoint_every=2,
                                 dvclive=False), tmp_path).fit(progress=False)
    return RunDir(tmp_path).generator


def test_grids_of_a_trained_generator(tmp_path: Path) -> None:
    path = trained(tmp_path / "gan", "gan")
    v = load_generator(path)
    sample_grid(v, 16, tmp_path / "grid.png")
    with Image.open(tmp_path / "grid.png") as png:
        assert png.size == (2 + 4 * 10, 2 + 4 * 10)  # 4 x 4 tiles of 8 px, 2 px padding
    interpolation_grid(v, tmp_path / "walk.png", rows=3, steps=5, mode="lerp")
    with Image.open(tmp_path / "walk.png") as png:
        assert png.size == (2 + 5 * 10, 2 + 3 * 10)
    with pytest.raises(GanlabError, match="interpolation 'cubic'"):
        interpolation_grid(v, tmp_path / "x.png", mode="cubic")
    with pytest.raises(GanlabError, match="steps >= 2"):
        interpolation_grid(v, tmp_path / "x.png", steps=1)


def test_conditional_grid_has_a_column_per_class(tmp_path: Path) -> None:
    v = load_generator(trained(tmp_path / "cgan", "cgan", n_classes=3))
    sample_grid(v, 9, tmp_path / "grid.png")
    with Image.open(tmp_path / "grid.png") as png:
        assert png.size == (2 + 3 * 10, 2 + 3 * 10)


def test_sample_command_takes_a_file_a_folder_or_a_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = trained(tmp_path / "data" / "models" / "g", "gan")
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    result = runner.invoke(app, ["sample", str(path), "--n", "4", "--out", str(a)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["sample", str(path.parent), "--n", "4", "--out", str(b)])
    assert result.exit_code == 0 and a.read_bytes() == b.read_bytes()  # same seed, same grid
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["sample", "g", "--interpolate", "--n", "16", "--out", "walk.png"])
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "walk.png") as png:
        assert png.size == (2 + 8 * 10, 2 + 2 * 10)  # n 16 / 8 steps = 2 rows
    result = runner.invoke(app, ["sample", "missing-run"])
    assert result.exit_code == 2


def options(out: Path, **kw) -> Path:
    """check_sample_options with the command's defaults and ``kw``."""
    return check_sample_options(**{"n": 64, "out": out, "seed": 0, "interpolate": False, "steps": 8, "mode": "slerp",
                                   **kw})


@pytest.mark.parametrize("kw, message", [
    ({"n": 0}, r"^--n = 0 is out of range; allowed: 1 <= n <= 1024 \(a 32 x 32 grid\)$"),
    ({"n": 1025}, r"^--n = 1025 is out of range; allowed: 1 <= n <= 1024"),
    ({"interpolate": True, "steps": 1}, r"^--steps = 1 is out of range with --interpolate; allowed: 2 <= steps <= 1024"),
    ({"interpolate": True, "steps": 0}, r"^--steps = 0 is out of range with --interpolate"),
    ({"mode": "cubic"}, r"^--mode = 'cubic' is not allowed; choose one of: lerp, slerp$"),
    ({"seed": -1}, r"^--seed = -1 is out of range; allowed: 0 <= seed < 2\*\*63$"),
])
def test_sample_options_out_of_range_are_refused(tmp_path: Path, kw: dict, message: str) -> None:
    with pytest.raises(GanlabError, match=message):
        options(tmp_path / "grid.png", **kw)
    assert options(tmp_path / "grid.png", n=1024, interpolate=True, steps=2) == tmp_path / "grid.png"
    assert options(tmp_path / "grid.png", steps=0) == tmp_path / "grid.png"  # --steps only counts with --interpolate


def test_an_out_where_a_png_cannot_go_without_loss_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(GanlabError, match=r"--out .*grid\.jpg: the grid is a PNG; give a path ending in \.png$"):
        options(tmp_path / "grid.jpg")
    with pytest.raises(GanlabError, match=r"--out .*/no/grid\.png: its folder .*/no does not exist; create it first$"):
        options(tmp_path / "no" / "grid.png")
    assert not (tmp_path / "no").exists()
    (tmp_path / "folder.png").mkdir()
    with pytest.raises(GanlabError, match=r"--out .*folder\.png is a folder; give the path of a \.png file$"):
        options(tmp_path / "folder.png")
    (tmp_path / "notes.png").write_text("my notes")
    with pytest.raises(GanlabError, match=r"--out .*notes\.png exists and is not a PNG; ganlab replaces only PNGs"):
        options(tmp_path / "notes.png")
    assert (tmp_path / "notes.png").read_text() == "my notes"
    (tmp_path / "old.png").write_bytes(samples.PNG_SIGNATURE + b"...")
    assert options(tmp_path / "old.png") == tmp_path / "old.png"  # an existing PNG may be replaced
    assert options(tmp_path / "GRID.PNG") == tmp_path / "GRID.PNG"  # the suffix in either case
    locked = read_only_folder(tmp_path / "locked", monkeypatch)
    with pytest.raises(GanlabError, match=r"--out .*locked/grid\.png: its folder .*locked is not writable$"):
        options(locked / "grid.png")
    locked.chmod(0o755)


def test_a_grid_larger_than_the_memory_bound_is_refused() -> None:
    big = SimpleNamespace(name="big", data=DataSpec((3, 1024, 1024), 0))
    check_grid_size(big, 85)
    with pytest.raises(GanlabError, match=r"^--n = 86: 86 samples of big's shape \(3, 1024, 1024\) hold 1\.0 GiB; "
                                          r"at most 85 at this shape$"):
        check_grid_size(big, 86)
