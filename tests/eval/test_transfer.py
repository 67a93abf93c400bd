"""DCGAN's transfer test (ganlab.eval.transfer), on tiny synthetic data; its L2-SVM is tested in tests/eval/test_svm.py.

The one test on the real CIFAR-10 is skipped unless GANLAB_DATA_MIRROR names the mirror folder.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from helpers import run_in

from ganlab.eval.config import TransferConfig
from ganlab.eval.transfer import (RANDOM_SUFFIX, RAW, TransferError, conv_features, feature_dim, load_discriminator,
                                  random_discriminator, run_transfer, write_transfer_stage)
from ganlab.errors import ParamsError
from ganlab.models import registry
from ganlab.models.base import DataSpec
from ganlab.params import load_params

MIRROR = os.environ.get("GANLAB_DATA_MIRROR")  # read at import: the isolated_env fixture hides it
ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- features


def tiny_discriminator(variant: str, shape: tuple[int, int, int], width: int = 4) -> torch.nn.Module:
    cls = registry.get(variant)
    torch.manual_seed(0)
    return cls(cls.Config(width=width), DataSpec(shape, 0), torch.device("cpu")).nets["discriminator"]


@pytest.mark.parametrize("variant", ["dcgan", "wgan_gp", "sngan"])
@pytest.mark.parametrize("shape, dim", [((3, 32, 32), (4 + 8 + 16) * 16), ((1, 28, 28), (4 + 8) * 16),
                                        ((1, 64, 64), (4 + 8 + 16 + 32) * 16)])
def test_every_conv_layer_but_the_logit_is_pooled_to_4x4(variant, shape, dim):
    net = tiny_discriminator(variant, shape)
    images = torch.randint(0, 256, (5, *shape), dtype=torch.uint8)
    features = conv_features(net, images, pool=4, batch_size=2)
    assert features.shape == (5, dim) == (5, feature_dim(net, 4))
    assert conv_features(net, images, pool=2).shape == (5, dim // 4)
    # the first block: max over each 4x4 cell of LeakyReLU(conv(x)), in (channel, row, column) order
    x = images.float() / 127.5 - 1
    with torch.no_grad():  # in eval mode, as conv_features runs it (spectral norm's power step only in training)
        first = F.leaky_relu(net.eval()[0](x), 0.2)
    assert torch.allclose(features[:, : 4 * 16], F.adaptive_max_pool2d(first, 4).flatten(1), atol=1e-6)
    assert torch.equal(features, conv_features(net, images, pool=4, batch_size=5))  # batch size changes nothing


def test_a_discriminator_without_conv_layers_is_refused():
    mlp = registry.get("gan")(registry.get("gan").Config(), DataSpec((1, 28, 28), 0), torch.device("cpu"))
    with pytest.raises(TransferError, match="has 0 convolution"):
        conv_features(mlp.nets["discriminator"], torch.zeros(1, 1, 28, 28, dtype=torch.uint8))


# --------------------------------------------------------------------------- a tiny project


def coloured_squares(n: int, side: int, channels: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """10 classes: a bright square at a class-specific place (and colour), on noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    images = rng.integers(0, 60, (n, side, side, channels)).astype(np.uint8)
    s = side // 4
    for i, k in enumerate(labels):
        r, c = divmod(int(k), 4)
        images[i, r * s : r * s + s, c * s : c * s + s, k % channels] += 180
    return images, labels


def write_dataset(root: Path, name: str, side: int, channels: int, variant: str) -> None:
    from ganlab.data.datasets import write_content
    from ganlab.data.formats import ImageData, ImageSplit

    splits = {split: ImageSplit(*coloured_squares(n, side, channels, seed))
              for split, n, seed in (("train", 200, 0), ("test", 60, 1))}
    (root / name).mkdir(parents=True)
    info = write_content(ImageData(splits, [f"c{k}" for k in range(10)]), root / name)
    (root / name / "dataset.json").write_text(json.dumps({"name": name, "variant": variant, **info}))


RUNS = {
    "tiny": {"variant": "dcgan", "data": "cifar10", "model": {"width": 4}},
    "tiny-grey": {"variant": "sngan", "data": "mnist", "model": {"width": 4}},  # 28x28 grey: inputs adapted
    "mlp": {"variant": "gan", "data": "cifar10", "model": {"hidden": 8}},
}
TRAIN = {"steps": 3, "batch_size": 16, "n_samples": 4, "dvclive": False, "device": "cpu"}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """data/cifar10 (32x32 RGB), data/mnist (28x28 grey), params.yaml and 3-step runs in data/models."""
    from ganlab.train.run import train_run

    root = tmp_path_factory.mktemp("transfer")
    write_dataset(root / "data", "cifar10", 32, 3, "jpeg-q75")
    write_dataset(root / "data", "mnist", 28, 1, "official")
    # dict(TRAIN): a dict shared by two runs would be written as a YAML anchor and alias, which params refuse
    params = {"models": {name: {**run, "train": dict(TRAIN)} for name, run in RUNS.items()},
              "transfer": {"runs": ["tiny", "tiny-grey"], "c_grid": [0.001, 0.1], "val_fraction": 0.25}}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    p = load_params_without_transfer(root / "params.yaml")
    for name in ("tiny", "tiny-grey"):
        train_run(p.models, name, root / "data", progress=False)
    return root


def load_params_without_transfer(path: Path):  # noqa: ANN201
    return load_params(path)


def test_params_section_is_checked(project, tmp_path):
    config = load_params(project / "params.yaml").transfer
    assert config.runs == ("tiny", "tiny-grey") and config.c_grid == (0.001, 0.1) and config.pool == 4
    raw = yaml.safe_load((project / "params.yaml").read_text())
    for bad, message in (({"pooll": 4}, r"unknown key 'transfer\.pooll' \(did you mean 'pool'\?\)"),
                         ({"c_grid": [0.1, -1.0]}, r"every C must be > 0"),
                         ({"val_fraction": 1.5}, r"transfer\.val_fraction = 1\.5 is out of range")):
        (tmp_path / "p.yaml").write_text(yaml.safe_dump({**raw, "transfer": bad}))
        with pytest.raises(ParamsError, match=message):
            load_params(tmp_path / "p.yaml")


def test_trained_discriminator_differs_from_its_random_twin(project):
    p = load_params_without_transfer(project / "params.yaml")
    data = project / "data"
    trained = load_discriminator(p.models, "tiny", data, data / "models")
    twin, twin_again = (random_discriminator(p.models, "tiny", data, seed=0) for _ in range(2))
    images = torch.from_numpy(coloured_squares(20, 32, 3, seed=5)[0]).permute(0, 3, 1, 2).contiguous()
    f_trained, f_twin = conv_features(trained.net, images), conv_features(twin.net, images)
    assert torch.equal(f_twin, conv_features(twin_again.net, images))  # the twin is fixed by its seed
    assert not torch.allclose(f_trained, f_twin, atol=1e-3)
    assert trained.trained_on["step"] == 3 and trained.trained_on["dataset_variant"] == "jpeg-q75"
    assert twin.name == "tiny" + RANDOM_SUFFIX and twin.trained_on == {}
    state = torch.load(data / "models" / "tiny" / "checkpoint.pt", weights_only=True)["model"]["nets"]
    assert torch.equal(trained.net[0].weight, state["discriminator.0.weight"])


def test_a_run_trained_at_a_smaller_image_size_is_measured_at_that_side(project, tmp_path):
    """A discriminator trained on CIFAR-10 shrunk to 16 px (train.image_size) is rebuilt at 16 px, and the
    test's CIFAR-10 images reach it through the same resize its training images went through."""
    from ganlab.eval.transfer import adapt_to
    from ganlab.train.run import train_run

    raw = yaml.safe_load((project / "params.yaml").read_text())
    raw["models"]["small"] = {**RUNS["tiny"], "train": {**TRAIN, "image_size": 16}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    p = load_params(tmp_path / "params.yaml")
    data = project / "data"
    train_run(p.models, "small", data, tmp_path / "models" / "small", progress=False)
    small = load_discriminator(p.models, "small", data, tmp_path / "models")
    assert small.shape == (3, 16, 16) and random_discriminator(p.models, "small", data, seed=0).shape == (3, 16, 16)
    images = torch.from_numpy(coloured_squares(6, 32, 3, seed=5)[0]).permute(0, 3, 1, 2).contiguous()
    adapted, done = adapt_to(images, small.shape)
    assert adapted.shape == (6, 3, 16, 16) and done == "32x32 resized to 16x16 (bilinear, antialiased)"
    assert conv_features(small.net, adapted).shape == (6, feature_dim(small.net))
    raw["models"]["small"]["train"]["image_size"] = 64  # larger than CIFAR-10's 32 px
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(ParamsError, match=r"^models\.small\.train\.image_size = 64: cifar10's images are 32 px"):
        load_discriminator(load_params(tmp_path / "params.yaml").models, "small", data, tmp_path / "models")


def test_bad_runs_are_named(project, tmp_path):
    p = load_params_without_transfer(project / "params.yaml")
    data = project / "data"
    with pytest.raises(TransferError, match=r"transfer.runs: no such run 'models.tnyi' \(did you mean 'tiny'\?\)"):
        run_transfer(p.models, TransferConfig(runs=("tnyi",)), data)
    with pytest.raises(TransferError, match=r"mlp \(gan\): the discriminator has 0 convolution"):
        run_transfer(p.models, TransferConfig(runs=("mlp",)), data)
    with pytest.raises(TransferError, match=r"no checkpoint of run 'tiny'; train it first \(dvc repro train@tiny\)"):
        run_transfer(p.models, TransferConfig(runs=("tiny",)), data, models_root=tmp_path)
    wider = load_params_without_transfer(project / "params.yaml").models["tiny"]
    import dataclasses

    p2 = dataclasses.replace(p, models={**p.models, "tiny": dataclasses.replace(
        wider, model=dataclasses.replace(wider.model, width=8))})
    with pytest.raises(TransferError, match=r"does not fit models.tiny as params.yaml builds it"):
        load_discriminator(p2.models, "tiny", data, data / "models")


def test_stage_writes_ours_and_the_published_rows_apart(project, tmp_path):
    p = load_params(project / "params.yaml")
    result = write_transfer_stage(p.models, p.transfer, project / "data", None, tmp_path / "out")
    names = [r["name"] for r in result["rows"]]
    assert names == ["tiny", "tiny" + RANDOM_SUFFIX, "tiny-grey", "tiny-grey" + RANDOM_SUFFIX, RAW]
    assert not any(r["published"] for r in result["rows"])
    assert all(r["cifar10_variant"] == "jpeg-q75" for r in result["rows"])
    grey = result["rows"][2]
    assert grey["input"].startswith("RGB to grey (BT.601 luma); 32x32 resized to 28x28")
    assert grey["trained_on"] == {**grey["trained_on"], "dataset": "mnist", "dataset_variant": "official", "step": 3}
    assert result["rows"][-1]["feature_dim"] == 3072 and result["rows"][-1]["test_accuracy"] > 0.5  # squares are easy
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["published"]["DCGAN + L2-SVM (the paper)"] == {"test_accuracy": 0.828, "published": True}
    assert {v["test_accuracy"] for v in metrics["published"].values()} == {0.828, 0.806, 0.82, 0.843}
    assert all(v["published"] for v in metrics["published"].values())
    assert metrics["tiny"]["c"] in (0.001, 0.1) and metrics["tiny"]["step"] == 3 and "step" not in metrics[RAW]
    readme = (tmp_path / "out" / "README.md").read_text()
    ours, published = readme.split("## Published")
    assert "| tiny |" in ours and "82.8%" not in ours
    assert "| Exemplar CNN | 84.3% |" in published and "| tiny |" not in published
    assert "jpeg-q75" in readme.splitlines()[2]


def test_stage_command(project, tmp_path):
    import subprocess

    raw = yaml.safe_load((project / "params.yaml").read_text())
    for name, runs in (("good", ["tiny"]), ("bad", ["tiny-gery"])):
        section = {"runs": runs, "c_grid": [0.1], "random_baselines": False}
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump({**raw, "transfer": section}))
    out = run_in([sys.executable, str(ROOT / "stages" / "transfer.py"), "--params", str(tmp_path / "good.yaml"),
                  "--out", str(tmp_path / "out")], project, OMP_NUM_THREADS="1")
    assert "raw pixels: test accuracy" in out
    assert set(json.loads((tmp_path / "out" / "metrics.json").read_text())) >= {"tiny", RAW, "published"}
    proc = subprocess.run([sys.executable, str(ROOT / "stages" / "transfer.py"), "--params", str(tmp_path / "bad.yaml"),
                           "--out", str(tmp_path / "bad")], cwd=project, capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 2 and "transfer.runs names 'tiny-gery', which is not a run under models: (did you mean 'tiny-grey'?)" in proc.stderr
    assert not (tmp_path / "bad").exists()


# --------------------------------------------------------------------------- the real CIFAR-10


@pytest.mark.mirror
@pytest.mark.slow
@pytest.mark.skipif(not MIRROR or not Path(MIRROR).is_dir(), reason="GANLAB_DATA_MIRROR is not set to a folder")
def test_raw_pixels_on_the_mirrors_cifar10(tmp_path, monkeypatch):
    from ganlab.data.fetch import fetch_dataset

    monkeypatch.setenv("GANLAB_DATA_MIRROR", MIRROR)
    fetch_dataset("cifar10", tmp_path / "cifar10", progress=False)
    config = TransferConfig(runs=(), train_subset=2000, c_grid=(1e-4, 1e-3))
    result = run_transfer({}, config, tmp_path)
    (row,) = result["rows"]
    assert row["cifar10_variant"] == result["protocol"]["cifar10_variant"] == "jpeg-q75"
    assert result["protocol"]["n_test"] == 10000 and row["feature_dim"] == 3072
    assert 0.25 < row["test_accuracy"] < 0.45  # linear SVMs on raw CIFAR-10 pixels: ~40% with all of train
