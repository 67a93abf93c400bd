"""Sample grids and interpolations from a shared generator.pt, and `ganlab sample`."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from ganlab.cli import app
from ganlab.errors import GanlabError
from ganlab.models import registry
from ganlab.models.base import DataSpec
from ganlab.report.samples import interpolation_grid, lerp, sample_grid, slerp
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
