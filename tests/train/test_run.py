"""One run of params.yaml (ganlab.train.run): what it reads besides the training split."""

from __future__ import annotations

import json

import numpy as np
import pytest


def test_train_run_scores_sgan_on_the_test_split(tmp_path):
    """ganlab.train.run loads the test split for a variant that evaluates itself."""
    from ganlab.data.datasets import write_content
    from ganlab.data.formats import ImageData, ImageSplit
    from ganlab.params import Params
    from ganlab.schema import from_dict
    from ganlab.train.run import train_run

    rng = np.random.default_rng(0)
    splits = {s: ImageSplit(rng.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8), np.arange(n) % 3)
              for s, n in (("train", 30), ("test", 9))}
    root = tmp_path / "data" / "mnist"
    root.mkdir(parents=True)
    info = write_content(ImageData(splits, ["a", "b", "c"]), root)
    (root / "dataset.json").write_text(json.dumps({"name": "mnist", **info}))
    params = from_dict(Params, {"models": {"s": {"variant": "sgan", "model": {"width": 4, "labels_per_class": 2},
                                                 "train": {"steps": 2, "batch_size": 6, "dvclive": False}}}}, "")
    summary = train_run(params.models, "s", tmp_path / "data", progress=False)
    assert summary["test"]["n_test"] == 9 and summary["test"]["n_labelled"] == 6
    assert 0 <= summary["test"]["accuracy"] <= 1


def write_faces(data_root, side: int = 16, n_train: int = 24, n_test: int = 8):
    """data_root/faces: grey ``side`` px images of a bright square on noise, one identity class."""
    from ganlab.data.datasets import write_content
    from ganlab.data.formats import ImageData, ImageSplit

    rng = np.random.default_rng(0)
    splits = {}
    for split, n in (("train", n_train), ("test", n_test)):
        x = rng.integers(0, 80, (n, side, side, 1), dtype=np.uint8)
        x[:, side // 4 : side // 2, side // 4 : 3 * side // 4] += 170
        splits[split] = ImageSplit(x, np.zeros(n, dtype=np.int64))
    root = data_root / "faces"
    root.mkdir(parents=True)
    info = write_content(ImageData(splits, ["face"]), root)
    (root / "dataset.json").write_text(json.dumps({"name": "faces", **info}))
    return root


def faces_run(image_size: int, variant: str = "dcgan", **train):
    from ganlab.params import Params
    from ganlab.schema import from_dict

    section = {"variant": variant, "data": "faces", "model": {"width": 4},
               "train": {"steps": 2, "batch_size": 8, "n_samples": 4, "dvclive": False, "image_size": image_size,
                         **train}}
    return from_dict(Params, {"models": {"f": section}}, "").models


def test_a_run_reads_its_images_shrunk_to_train_image_size_as_the_evaluator_adapts_them(tmp_path):
    """The training images of a run at image_size 8 on 16-px faces are the dataset's shrunk by the resize the
    metrics adapt real images with (so the run learns what it is measured against), for every split it reads."""
    import torch

    from ganlab.data.datasets import load_images
    from ganlab.eval.extractors import adapt_images
    from ganlab.images import nchw, to_uint8
    from ganlab.train.run import load_training_data

    root = write_faces(tmp_path)
    models = faces_run(8)
    for split in ("train", "test"):
        x, _, spec, _ = load_training_data(models["f"], tmp_path, False, split, "models.f")
        assert x.shape == (24 if split == "train" else 8, 1, 8, 8) and spec.shape == (1, 8, 8)
        assert x.dtype == torch.float32 and x.is_contiguous()
        as_measured, done = adapt_images(nchw(load_images(root, split)[0].images), 1, 8)
        assert done == "16x16 resized to 8x8 (bilinear, antialiased)"
        assert torch.equal(to_uint8(x), as_measured)
    full, _, spec, _ = load_training_data(faces_run(16)["f"], tmp_path, False)  # its own side: as it is
    assert spec.shape == (1, 16, 16) and torch.equal(to_uint8(full), nchw(load_images(root, "train")[0].images))


def test_a_run_trained_at_a_smaller_side_samples_at_it_and_says_so(tmp_path):
    from ganlab.runs import RunDir, load_generator
    from ganlab.train.run import train_run

    write_faces(tmp_path)
    summary = train_run(faces_run(8), "f", tmp_path, tmp_path / "out", progress=False)
    assert summary["finished"]
    written = json.loads(RunDir(tmp_path / "out").summary.read_text())
    assert written["settings"]["data"][0]["shape"] == [1, 8, 8]  # in the fingerprint: another side starts over
    variant = load_generator(RunDir(tmp_path / "out").generator)
    assert variant.data.shape == (1, 8, 8)
    assert variant.sample(variant.noise(3)).shape == (3, 1, 8, 8)


@pytest.mark.parametrize("size, variant, message", [
    (32, "dcgan", r"^models\.f\.train\.image_size = 32: faces's images are 16 px; image_size only shrinks them "
                  r"\(1\.\.16, or 0 for their own side\)$"),
    (6, "dcgan", r"^models\.f\.train\.image_size = 6: dcgan cannot be built for \(1, 6, 6\) images "
                 r"\(image side 6 is not 4 or 7 times a power of two"),
])
def test_an_image_size_the_data_or_the_networks_cannot_take_is_named(tmp_path, size, variant, message):
    from ganlab.errors import ParamsError
    from ganlab.train.run import train_run

    write_faces(tmp_path)
    with pytest.raises(ParamsError, match=message) as err:
        train_run(faces_run(size, variant), "f", tmp_path, tmp_path / "out", progress=False)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()  # refused before anything is written


def test_an_image_size_on_data_that_are_no_images_is_named(tmp_path):
    from ganlab.data.config import ToyParams
    from ganlab.data.toy import write_toy
    from ganlab.errors import ParamsError
    from ganlab.params import Params
    from ganlab.schema import from_dict
    from ganlab.train.run import train_run

    write_toy(ToyParams(n=50), tmp_path / "toy-gaussian")
    models = from_dict(Params, {"models": {"t": {"variant": "gan", "data": "toy-gaussian",
                                                 "model": {"arch": "affine", "z_dim": 1},
                                                 "train": {"steps": 2, "image_size": 1, "dvclive": False}}}},
                       "").models
    with pytest.raises(ParamsError, match=r"^models\.t\.train\.image_size = 1: toy-gaussian holds toy, not images"):
        train_run(models, "t", tmp_path, tmp_path / "out", progress=False)


def test_a_gan_run_on_the_ring_keeps_its_points_and_draws_them_over_the_modes(tmp_path):
    """The real path of stage train@<run> on toy-ring: the loader feeds (N, 2, 1, 1) points, the toy MLP trains on
    them, the trainer keeps the fixed-noise points at each sample step (samples/step_N.npy), the monitor scores
    the modes at the start and the end, and samples/modes.png draws the kept points over the modes."""
    from PIL import Image

    from ganlab.data.config import ModesProtocolParams, RingParams
    from ganlab.data.toy2d import write_toy2d
    from ganlab.params import Params
    from ganlab.schema import from_dict
    from ganlab.train.run import train_run

    write_toy2d("toy-ring", RingParams(n=2000), ModesProtocolParams(samples=500), tmp_path / "data" / "toy-ring")
    section = {"variant": "gan", "data": "toy-ring", "model": {"arch": "toy", "hidden": 32, "z_dim": 8, "lr": 1e-3},
               "train": {"steps": 300, "batch_size": 64, "sample_every": 100, "n_samples": 128, "dvclive": False}}
    params = from_dict(Params, {"models": {"ring": section}}, "")
    summary = train_run(params.models, "ring", tmp_path / "data", progress=False)
    samples = tmp_path / "data" / "models" / "ring" / "samples"
    kept = sorted(p.name for p in samples.glob("step_*.npy"))
    assert kept == ["step_0000100.npy", "step_0000200.npy", "step_0000300.npy"]
    for name in kept:
        points = np.load(samples / name)
        assert points.shape == (128, 2) and points.dtype == np.float32 and np.isfinite(points).all()
    assert not np.array_equal(np.load(samples / kept[0]), np.load(samples / kept[-1]))  # the generator moved
    assert summary["eval_protocol"]["n_generated"] == 500 and summary["eval_step"] == 300
    assert 0 <= summary["eval"]["modes"] <= 8 and 0 <= summary["eval"]["high_quality"] <= 1
    with Image.open(samples / "modes.png") as figure:
        assert figure.width > 2 * figure.height  # three panels side by side, one per kept step
    assert not list(samples.glob("*.png"))[1:]  # no image grids of points: modes.png is the one picture
