"""A run's folder and its model files (ganlab.runs): paths, checkpoint and generator round-trips, formats."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from ganlab.errors import GanlabError
from ganlab.models import registry
from ganlab.models.base import DataSpec
from ganlab.runs import (
    Checkpoint,
    RunDir,
    UnreadableCheckpoint,
    build_variant,
    data_spec_from_dict,
    export_generator,
    load_generator,
    models_root,
    read_checkpoint,
    write_checkpoint,
)
from ganlab.train.trainer import TrainConfig, Trainer

SHAPE = (1, 28, 28)


def dcgan(n_classes: int = 0, seed: int = 0):
    torch.manual_seed(seed)
    return build_variant("dcgan" if not n_classes else "acgan", {"width": 8}, DataSpec(SHAPE, n_classes))


def test_run_folder_names_every_file_of_a_run(tmp_path):
    run = RunDir.of("dcgan")
    assert run == RunDir(Path("data/models/dcgan")) and models_root() == Path("data/models")
    assert run.checkpoint == Path("data/models/dcgan/checkpoint.pt")
    assert run.generator == Path("data/models/dcgan/generator.pt")
    assert run.summary == Path("data/models/dcgan/train_summary.json")
    assert run.samples == Path("data/models/dcgan/samples")
    assert run.dvclive == Path("data/models/dcgan/dvclive")
    assert RunDir.of("gan", tmp_path).generator == tmp_path / "models" / "gan" / "generator.pt"
    assert RunDir(str(tmp_path)).root == tmp_path  # a str becomes a Path
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.root = tmp_path


def test_the_trainer_writes_where_the_run_folder_says(tmp_path):
    v = dcgan()
    x = torch.rand(16, *SHAPE) * 2 - 1
    Trainer(v, x, None, TrainConfig(steps=2, batch_size=8, n_samples=4, sample_every=2, checkpoint_every=2),
            tmp_path).fit(progress=False)
    run = RunDir(tmp_path)
    assert run.checkpoint.is_file() and run.generator.is_file() and run.summary.is_file()
    assert (run.samples / "step_0000002.png").is_file() and run.dvclive.is_dir()
    saved = read_checkpoint(run.checkpoint)
    assert (saved.step, saved.variant) == (2, "dcgan") and len(saved.fingerprint) == 16 and len(saved.rng) == 1


def test_checkpoint_round_trip(tmp_path):
    v = dcgan()
    rng = [{"cpu": torch.get_rng_state(), "cuda": []}]
    written = Checkpoint(step=7, variant="dcgan", fingerprint="0123456789abcdef", model=v.state_dict(), rng=rng)
    path = write_checkpoint(tmp_path / "sub" / "checkpoint.pt", written)
    assert path == tmp_path / "sub" / "checkpoint.pt" and not list(path.parent.glob(".*.tmp"))
    read = read_checkpoint(path)
    assert (read.step, read.variant, read.fingerprint) == (7, "dcgan", "0123456789abcdef")
    assert torch.equal(read.rng[0]["cpu"], rng[0]["cpu"]) and read.rng[0]["cuda"] == []
    other = dcgan(seed=1)
    other.load_state_dict(read.model)  # networks and optimizers come back
    for key, value in v.nets.state_dict().items():
        assert torch.equal(other.nets.state_dict()[key], value), key


def test_checkpoint_format_is_the_same_dict_and_the_same_bytes(tmp_path):
    v = dcgan()
    ckpt = Checkpoint(step=3, variant="dcgan", fingerprint="f", model=v.state_dict(), rng=[])
    a, b = write_checkpoint(tmp_path / "a.pt", ckpt), write_checkpoint(tmp_path / "b.pt", ckpt)
    assert a.read_bytes() == b.read_bytes()
    raw = torch.load(a, weights_only=True)
    assert list(raw) == ["step", "variant", "fingerprint", "model", "rng"]
    assert raw["step"] == 3 and raw["variant"] == "dcgan" and raw["fingerprint"] == "f" and raw["rng"] == []


def test_unreadable_and_incomplete_checkpoints_are_named(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UnreadableCheckpoint, match=r"junk\.pt: not a readable checkpoint \("):
        read_checkpoint(tmp_path / "junk.pt")
    torch.save({"step": 1, "variant": "dcgan"}, tmp_path / "part.pt")
    with pytest.raises(UnreadableCheckpoint, match=r"part\.pt: not a readable checkpoint \(it has no model, rng\)"):
        read_checkpoint(tmp_path / "part.pt")
    torch.save({"step": 1, "variant": "dcgan", "model": {}, "rng": []}, tmp_path / "old.pt")
    assert read_checkpoint(tmp_path / "old.pt").fingerprint is None  # written before fingerprints
    with pytest.raises(FileNotFoundError):
        read_checkpoint(tmp_path / "missing.pt")
    assert issubclass(UnreadableCheckpoint, GanlabError)


@pytest.mark.parametrize("channels_last", [False, True])
def test_generator_export_load_round_trip_samples_the_same(tmp_path, channels_last):
    v = dcgan(n_classes=3)
    if channels_last:
        v.nets.to(memory_format=torch.channels_last)
    path = export_generator(v, tmp_path / "generator.pt", step=5, channels_last=channels_last)
    loaded = load_generator(path)
    assert type(loaded) is type(v) and loaded.config == v.config and loaded.data == v.data
    v.nets.eval()
    loaded.nets.eval()
    z, labels = v.grid_inputs(6, torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert torch.equal(v.sample(z, labels), loaded.sample(z, labels))
    raw = torch.load(path, weights_only=True)
    assert list(raw) == ["variant", "config", "data", "step", "channels_last", "roles"]
    assert raw["variant"] == "acgan" and raw["step"] == 5 and raw["channels_last"] is channels_last
    assert raw["config"] == dataclasses.asdict(v.config) and raw["data"] == dataclasses.asdict(v.data)
    assert set(raw["roles"]) == {"generator"}  # no discriminator, no optimizer state
    again = export_generator(v, tmp_path / "again.pt", step=5, channels_last=channels_last)
    assert again.read_bytes() == path.read_bytes()


def test_missing_or_broken_generator_files_are_named(tmp_path):
    with pytest.raises(GanlabError, match=r"generator\.pt: no such generator file"):
        load_generator(tmp_path / "generator.pt")
    (tmp_path / "generator.pt").write_bytes(b"junk")
    with pytest.raises(GanlabError, match=r"generator\.pt: not a readable generator file"):
        load_generator(tmp_path / "generator.pt")


def test_build_variant_takes_a_config_or_its_dict_and_a_spec_or_its_dict():
    cls = registry.get("dcgan")
    spec = DataSpec(SHAPE, 0)
    torch.manual_seed(4)
    a = build_variant("dcgan", cls.Config(width=8), spec)
    torch.manual_seed(4)
    b = build_variant("dcgan", {"width": 8}, dataclasses.asdict(spec), torch.device("cpu"))
    assert type(a) is type(b) is cls and a.config == b.config and a.data == b.data == spec
    for key, value in a.nets.state_dict().items():  # the same draws from the global RNG
        assert torch.equal(b.nets.state_dict()[key], value), key
    with pytest.raises(GanlabError, match="unknown variant 'dcgna'"):
        build_variant("dcgna", {}, spec)


def test_data_spec_from_its_dict_and_from_an_older_file():
    text = DataSpec((5,), 0, vocab=7, words=("a", "b", "<end>"), end_token=2)
    assert data_spec_from_dict(dataclasses.asdict(text)) == text
    assert data_spec_from_dict({"shape": [1, 28, 28], "n_classes": 10}) == DataSpec((1, 28, 28), 10)  # before vocab


def test_missing_generator_file_is_named(tmp_path):
    from ganlab.runs import load_generator

    with pytest.raises(GanlabError, match="no such generator file"):
        load_generator(tmp_path / "generator.pt")
