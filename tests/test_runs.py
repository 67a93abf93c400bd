"""A run's folder and its model files (ganlab.runs): paths, checkpoint and generator round-trips, formats,
and the checks that come before anything is built from a file."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from helpers import flipped, zip_regions
from tiny_variants import TINY, make

from ganlab import runs
from ganlab.errors import GanlabError
from ganlab.models import registry
from ganlab.models.base import DataSpec
from ganlab.runs import (
    CHECKPOINT_FORMAT,
    GENERATOR_FORMAT,
    Checkpoint,
    RunDir,
    UnreadableCheckpoint,
    UnreadableGenerator,
    build_variant,
    check_integrity,
    data_spec_from_dict,
    export_generator,
    find_generator,
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
    assert list(raw) == ["format", "step", "variant", "fingerprint", "model", "rng"]
    assert raw["format"] == CHECKPOINT_FORMAT == "ganlab-checkpoint/1" and raw["step"] == 3 and raw["variant"] == "dcgan" and raw["fingerprint"] == "f" and raw["rng"] == []


def test_unreadable_and_incomplete_checkpoints_are_named(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UnreadableCheckpoint, match=r"junk\.pt: not a readable checkpoint \(not the zip archive"):
        read_checkpoint(tmp_path / "junk.pt")
    torch.save({"step": 1, "variant": "dcgan"}, tmp_path / "part.pt")
    with pytest.raises(UnreadableCheckpoint, match=r"part\.pt: not a readable checkpoint \(it has no model, rng; "
                                                   r"it has step, variant\)"):
        read_checkpoint(tmp_path / "part.pt")
    torch.save({"foo": 1}, tmp_path / "foo.pt")
    with pytest.raises(UnreadableCheckpoint, match=r"foo\.pt: not a readable checkpoint \(it has no step, variant, "
                                                   r"model, rng; it has foo\)"):
        read_checkpoint(tmp_path / "foo.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(UnreadableCheckpoint, match=r"list\.pt: not a readable checkpoint \(it holds a list"):
        read_checkpoint(tmp_path / "list.pt")
    with pytest.raises(FileNotFoundError):
        read_checkpoint(tmp_path / "missing.pt")
    assert issubclass(UnreadableCheckpoint, GanlabError) and issubclass(UnreadableGenerator, GanlabError)


def checkpoint_dict(tmp_path: Path) -> dict:
    """The dict of a real checkpoint.pt of a tiny DCGAN, as torch.load gives it."""
    v = dcgan()
    path = write_checkpoint(tmp_path / "real.pt", Checkpoint(3, "dcgan", "0123456789abcdef", v.state_dict(),
                                                             [{"cpu": torch.get_rng_state(), "cuda": []}]))
    return torch.load(path, weights_only=True)


def test_a_checkpoint_written_before_the_format_key_is_still_read(tmp_path):
    legacy = {k: v for k, v in checkpoint_dict(tmp_path).items() if k not in ("format", "fingerprint")}
    torch.save(legacy, tmp_path / "old.pt")  # torch.save's own zip: no format key, no seal, no fingerprint
    read = read_checkpoint(tmp_path / "old.pt")
    assert (read.step, read.variant, read.fingerprint) == (3, "dcgan", None)
    assert set(read.model) == {"nets", "optimizers"} and len(read.rng) == 1


def _set(key, value):
    def change(state):
        state[key] = value
    return change


@pytest.mark.parametrize("change, message", [
    (_set("step", -1), r"step = -1 \(int\) must be a whole number >= 0"),
    (_set("step", "3"), r"step = '3' \(str\) must be a whole number >= 0"),
    (_set("step", True), r"step = True \(bool\) must be a whole number >= 0"),
    (_set("variant", "dcgna"), r"variant = 'dcgna' \(str\) is not a registered variant; registered: aae, "),
    (_set("fingerprint", 5), r"fingerprint = 5 \(int\) must be a string"),
    (_set("model", {"nets": {}}), r"model must be a mapping with nets and optimizers .*got nets"),
    (_set("model", [1]), r"model must be a mapping with nets and optimizers .*got list"),
    (lambda s: s["model"]["nets"].update({"generator.0.weight": 1.5}), r"model\.nets\.generator\.0\.weight = float "
                                                                        r"must be a tensor"),
    (_set("rng", []), r"rng = list must be a non-empty list \(one RNG state per process\)"),
    (_set("rng", [{"cpu": torch.zeros(3), "cuda": []}]), r"rng\[0\] must be a mapping of cpu \(a uint8 tensor\)"),
    (_set("extra", 1), r"not a readable checkpoint \(unknown key 'extra'; a checkpoint has step, variant, "),
    (_set("format", "ganlab-checkpoint/2"), r"format = 'ganlab-checkpoint/2' is another version; this ganlab reads "
                                            r"ganlab-checkpoint/1"),
    (_set("format", "zip"), r"format = 'zip' is not a ganlab format; this ganlab reads ganlab-checkpoint/1"),
])
def test_what_a_checkpoint_holds_is_checked_and_named(tmp_path, change, message):
    state = checkpoint_dict(tmp_path)
    change(state)
    torch.save(state, tmp_path / "checkpoint.pt")
    with pytest.raises(UnreadableCheckpoint, match=r"checkpoint\.pt: " + message):
        read_checkpoint(tmp_path / "checkpoint.pt")


def test_a_generator_file_is_no_checkpoint_and_a_checkpoint_no_generator_file(tmp_path):
    v = dcgan()
    generator = export_generator(v, tmp_path / "run" / "generator.pt", step=1, channels_last=False)
    checkpoint = write_checkpoint(tmp_path / "run" / "checkpoint.pt", Checkpoint(1, "dcgan", "f", v.state_dict(),
                                                                                   [{"cpu": torch.get_rng_state(),
                                                                                     "cuda": []}]))
    with pytest.raises(UnreadableGenerator, match=rf"^{checkpoint} is a checkpoint, not a generator file; sample from "
                                                  rf"{generator}$"):
        load_generator(checkpoint)
    with pytest.raises(UnreadableCheckpoint, match=rf"^{generator} is a generator file, not a checkpoint$"):
        read_checkpoint(generator)
    legacy = {k: v for k, v in torch.load(checkpoint, weights_only=True).items() if k != "format"}
    torch.save(legacy, tmp_path / "old.pt")  # written before the format key: known by its keys
    with pytest.raises(UnreadableGenerator, match=r"old\.pt is a checkpoint, not a generator file"):
        load_generator(tmp_path / "old.pt")


def test_a_loaded_generator_has_no_optimizers_and_loads_without_torch_dynamo(tmp_path):
    """Building optimizers (and drawing weights on the meta device) imports torch._dynamo: 1.2 s of every
    metrics stage's start-up, for nothing a sampler needs."""
    path = export_generator(dcgan(), tmp_path / "generator.pt", step=1, channels_last=False)
    loaded = load_generator(path)
    assert loaded.optimizers == {}
    with pytest.raises(GanlabError, match="built without optimizers"):
        loaded.update("generator", loaded.nets["generator"](loaded.noise(2)).mean())
    assert dcgan().optimizers  # built to train: it has them
    code = ("import sys, torch; from ganlab.runs import load_generator; v = load_generator(sys.argv[1]); "
            "v.nets.eval(); v.sample(v.noise(2)); print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

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
    assert list(raw) == ["format", "variant", "config", "data", "step", "channels_last", "roles"]
    assert raw["format"] == GENERATOR_FORMAT == "ganlab-generator/1" and raw["variant"] == "acgan" and raw["step"] == 5 and raw["channels_last"] is channels_last
    assert raw["config"] == dataclasses.asdict(v.config) and raw["data"] == dataclasses.asdict(v.data)
    assert set(raw["roles"]) == {"generator"}  # no discriminator, no optimizer state
    again = export_generator(v, tmp_path / "again.pt", step=5, channels_last=channels_last)
    assert again.read_bytes() == path.read_bytes()


def test_missing_or_broken_generator_files_are_named(tmp_path):
    with pytest.raises(UnreadableGenerator, match=r"generator\.pt: no such generator file$"):
        load_generator(tmp_path / "generator.pt")
    with pytest.raises(UnreadableGenerator, match=r"no such generator file \(it is a folder\)"):
        load_generator(tmp_path)
    (tmp_path / "generator.pt").write_bytes(b"junk")
    with pytest.raises(UnreadableGenerator, match=r"generator\.pt: not a readable generator file \(not the zip"):
        load_generator(tmp_path / "generator.pt")


@pytest.mark.parametrize("name", sorted(TINY))
def test_every_variant_exports_a_generator_that_loads_back(tmp_path, name):
    """Each registered variant (the contract's tiny settings) goes through every check of load_generator,
    the meta-device build among them, and comes back with the same weights and the same samples."""
    v = make(name)
    path = export_generator(v, tmp_path / "generator.pt", step=0, channels_last=False)
    loaded = load_generator(path)
    assert type(loaded) is type(v) and loaded.config == v.config and loaded.data == v.data
    for role in v.generator_roles:
        mine, theirs = v.nets[role].state_dict(), loaded.nets[role].state_dict()
        assert list(mine) == list(theirs) and all(torch.equal(mine[k], theirs[k]) for k in mine), role
    v.nets.eval()
    loaded.nets.eval()
    drawn = []
    for variant in (v, loaded):
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(5)  # the sequence variants draw their tokens from the global RNG
            drawn.append(variant.sample(*variant.grid_inputs(4, torch.Generator().manual_seed(3))))
    assert torch.equal(*drawn)


def generator_dict(tmp_path: Path) -> dict:
    """The dict of a real generator.pt of a tiny DCGAN (width 8), as torch.load gives it."""
    return torch.load(export_generator(dcgan(), tmp_path / "real.pt", step=2, channels_last=False), weights_only=True)


def test_a_generator_file_written_before_the_format_key_is_still_read(tmp_path):
    legacy = {k: v for k, v in generator_dict(tmp_path).items() if k not in ("format", "channels_last")}
    torch.save(legacy, tmp_path / "old.pt")  # no format key, no seal, no channels_last: as the first exports
    assert load_generator(tmp_path / "old.pt").config == registry.get("dcgan").Config(width=8)


def _config(key, value):
    def change(state):
        state["config"][key] = value
    return change


def _data(key, value):
    def change(state):
        state["data"][key] = value
    return change


def _weight(role, key, value):
    def change(state):
        state["roles"][role][key] = value
    return change


SHAPE_BOUNDS = r"must be 1 to 4 whole numbers of 1 to 16384, 16777216 values in all"


@pytest.mark.parametrize("change, message", [
    (_config("width", 1_000_000), r"config\.width = 1000000 is out of range; allowed: 1 <= value <= 1024"),
    (_config("width", "8"), r"config\.width = '8' \(str\) must be a whole number"),
    (_config("widht", 8), r"unknown key 'config\.widht' \(did you mean 'width'\?\)"),
    (_set("config", [8]), r"config must be a mapping, got \[8\] \(list\)"),
    (_set("variant", "dcgna"), r"variant = 'dcgna' \(str\) is not a registered variant"),
    (_set("step", -2), r"step = -2 \(int\) must be a whole number >= 0"),
    (_set("channels_last", "yes"), r"channels_last = 'yes' \(str\) must be true or false"),
    (_set("data", [1, 28, 28]), r"data = list must be a mapping \(shape, n_classes, \.\.\.\)"),
    (_data("shape", []), r"data\.shape = \[\] " + SHAPE_BOUNDS),
    (_data("shape", [1, 0, 28]), r"data\.shape = \[1, 0, 28\] " + SHAPE_BOUNDS),
    (_data("shape", [1, 28, 28, 1, 1]), r"data\.shape = \[1, 28, 28, 1, 1\] " + SHAPE_BOUNDS),
    (_data("shape", [3, 16384, 16384]), r"data\.shape = \[3, 16384, 16384\] " + SHAPE_BOUNDS),
    (_data("shape", [1, 28.0, 28]), r"data\.shape = \[1, 28\.0, 28\] " + SHAPE_BOUNDS),
    (_data("n_classes", -1), r"data\.n_classes = -1 \(int\) must be a whole number, 0 <= value <= 100000"),
    (_data("vocab", 10**9), r"data\.vocab = 1000000000 \(int\) must be a whole number, 0 <= value <= 1000000"),
    (_data("end_token", 5), r"data\.end_token = 5 \(int\) must be -1 \(none\) or a token, below vocab = 0"),
    (_data("words", ["a"]), r"data\.words must be a list of strings, one per token \(vocab = 0\), or empty"),
    (_data("colour", 1), r"data must have shape and n_classes, and only shape, n_classes, vocab, words, end_token"),
    (_data("shape", [1, 7, 9]), r"dcgan cannot be built from its config and data \("),
    (_set("roles", {}), r"roles must hold dcgan's generator roles generator; it holds none"),
    (lambda s: s["roles"].update({"discriminator": {}}), r"roles must hold dcgan's generator roles generator; it "
                                                         r"holds generator, discriminator"),
    (_weight("generator", "1.weight", 1.0), r"roles\.generator\.1\.weight = float must be a tensor"),
    (lambda s: s["roles"]["generator"].pop("1.weight"), r"roles\.generator\.1\.weight: the file lacks it, the "
                                                       r"config builds it"),
    (_weight("generator", "extra.weight", torch.zeros(1)), r"roles\.generator\.extra\.weight: the file has it, the "
                                                           r"config builds no such tensor"),
    (_weight("generator", "1.weight", torch.zeros(100, 32, 7, 7)),
     r"roles\.generator\.1\.weight has shape \(100, 32, 7, 7\) in the file, the config builds \(100, 16, 7, 7\)"),
    (_config("width", 1024), r"roles\.generator\.1\.weight has shape \(100, 16, 7, 7\) in the file, the "
                             r"config builds \(100, 2048, 7, 7\)"),
    (_set("format", "ganlab-generator/2"), r"format = 'ganlab-generator/2' is another version; this ganlab reads "
                                           r"ganlab-generator/1"),
    (_set("extra", 1), r"not a readable generator file \(unknown key 'extra'"),
    (lambda s: s.pop("roles"), r"not a readable generator file \(it has no roles; it has format, variant, "),
])
def test_what_a_generator_file_holds_is_checked_before_anything_is_built(tmp_path, monkeypatch, change, message):
    state = generator_dict(tmp_path)
    assert list(state["roles"]["generator"])[0] == "1.weight"  # the key the cases name
    change(state)
    torch.save(state, tmp_path / "generator.pt")

    def built(*args, **kwargs):
        raise AssertionError("the variant was built for real before the file was checked")

    monkeypatch.setattr(runs, "build_variant", built)
    with pytest.raises(UnreadableGenerator, match=r"generator\.pt: " + message):
        load_generator(tmp_path / "generator.pt")


def test_a_config_that_builds_more_than_the_limit_is_refused(tmp_path, monkeypatch):
    path = export_generator(dcgan(), tmp_path / "generator.pt", step=2, channels_last=False)
    monkeypatch.setattr(runs, "MAX_MODEL_BYTES", 1000)
    with pytest.raises(UnreadableGenerator, match=r"generator\.pt: its config makes dcgan hold 0\.0 GiB of weights; "
                                                  r"at most 0 GiB is loaded"):
        load_generator(path)


# --------------------------------------------------------------------------- damaged bytes


def test_a_checkpoint_with_flipped_bytes_anywhere_is_refused(tmp_path):
    real = write_checkpoint(tmp_path / "real.pt", Checkpoint(3, "dcgan", "f", dcgan().state_dict(),
                                                            [{"cpu": torch.get_rng_state(), "cuda": []}]))
    assert zipfile.ZipFile(real).comment.startswith(b"ganlab-sha256:")  # the seal torch.load reads past
    for region, offset in zip_regions(real).items():
        bad = flipped(real, offset, tmp_path / "checkpoint.pt")
        with pytest.raises(UnreadableCheckpoint, match=r"checkpoint\.pt: damaged file \(.*\); its bytes changed "
                                                       r"after it was written") as caught:
            read_checkpoint(bad)
        assert "\n" not in str(caught.value), region
        if region == "tensor data":
            assert "(zip CRC check failed for member archive/data/" in str(caught.value)
        if region.startswith("local header time") or region.startswith("central directory"):
            assert "its SHA-256 differs from the one written in it" in str(caught.value), region


def test_every_single_flipped_byte_of_a_generator_file_is_found(tmp_path):
    torch.manual_seed(0)
    real = export_generator(build_variant("dcgan", {"width": 1, "z_dim": 2}, DataSpec((1, 8, 8), 0)),
                            tmp_path / "real.pt", step=0, channels_last=False)
    check_integrity(real, "generator file", UnreadableGenerator)
    data = real.read_bytes()
    bad = tmp_path / "generator.pt"
    missed = []
    for offset in range(len(data)):
        flipped(real, offset, bad)
        try:
            check_integrity(bad, "generator file", UnreadableGenerator)
            missed.append(offset)
        except UnreadableGenerator:
            pass
    assert missed == [], f"{len(missed)} of {len(data)} flipped bytes went unnoticed"


def test_a_file_without_a_seal_is_checked_by_its_crcs(tmp_path):
    torch.save(checkpoint_dict(tmp_path), tmp_path / "plain.pt")  # as torch.save writes it: no seal
    plain = tmp_path / "plain.pt"
    assert read_checkpoint(plain).step == 3
    bad = flipped(plain, zip_regions(plain)["tensor data"], tmp_path / "checkpoint.pt")
    with pytest.raises(UnreadableCheckpoint, match=r"damaged file \(zip CRC check failed for member plain/data/"):
        read_checkpoint(bad)


def test_the_generator_a_name_means_is_found_or_every_place_looked_at_is_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = export_generator(dcgan(), RunDir.of("g").generator, step=0, channels_last=False)
    assert find_generator(str(path)) == path and find_generator(str(path.parent)) == path
    assert find_generator("g") == path and find_generator("g", "data") == path
    with pytest.raises(UnreadableGenerator, match=r"^nothing: no generator there \(no file or folder nothing, no run's "
                                                  r"data/models/nothing/generator\.pt\)$"):
        find_generator("nothing")
    with pytest.raises(UnreadableGenerator, match=r"^x/g\.pt: no generator there \(no file or folder x/g\.pt\)$"):
        find_generator("x/g.pt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UnreadableGenerator, match=r"^empty: a folder without a generator file \(looked for "
                                                  r"empty/generator\.pt\)$"):
        find_generator("empty")


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
    with pytest.raises(GanlabError, match=r"config\.width = 0 is out of range; allowed: 1 <= value <= 1024"):
        build_variant("dcgan", {"width": 0}, spec)  # a dict goes through the variant's schema


def test_data_spec_from_its_dict_and_from_an_older_file():
    text = DataSpec((5,), 0, vocab=7, words=("a", "b", "<end>"), end_token=2)
    assert data_spec_from_dict(dataclasses.asdict(text)) == text
    assert data_spec_from_dict({"shape": [1, 28, 28], "n_classes": 10}) == DataSpec((1, 28, 28), 10)  # before vocab
