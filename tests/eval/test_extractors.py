"""Feature extractors: the evaluator as plain torch and in torch-fidelity's registry, and Inception-v3
found only where its weights are (never downloaded), with a reason when it is not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch_fidelity.feature_extractor_inceptionv3 as tf_inception
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

from ganlab.errors import GanlabError
from ganlab.eval import extractors, fidelity
from ganlab.eval.evaluator import Evaluator, EvaluatorNet, save_evaluator
from ganlab.eval.extractors import (
    EVALUATOR,
    INCEPTION,
    INCEPTION_FILE,
    ExtractorUnavailable,
    adapt_images,
    find_inception_weights,
    get_extractor,
    inception_cache_path,
    inception_status,
)
from ganlab.eval.metrics import extract_features


def random_evaluator(path: Path, channels: int = 1, size: int = 28, n_classes: int = 10) -> Path:
    """An evaluator with fixed random weights: enough where the test needs no good one."""
    torch.manual_seed(0)
    net = EvaluatorNet(channels, n_classes, size, width=4, features=16).eval()
    info = {"dataset": "random", "classes": [str(i) for i in range(n_classes)]}
    return save_evaluator(Evaluator(net, info), path)


@pytest.fixture
def no_downloads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty torch hub cache, and any attempt to download fails the test."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a download was attempted: {args}")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(tf_inception, "load_state_dict_from_url", refuse)
    assert str(inception_cache_path()).startswith(str(tmp_path))
    return inception_cache_path()


@pytest.fixture(scope="module")
def random_inception_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state dict of torch-fidelity's Inception-v3 with random weights (not the real ones)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tf_inception, "load_state_dict_from_url", lambda *a, **k: None)
        mp.setattr(tf_inception.FeatureExtractorInceptionV3, "load_state_dict", lambda self, state: None)
        torch.manual_seed(0)
        net = tf_inception.FeatureExtractorInceptionV3(INCEPTION, ["2048"])
    path = tmp_path_factory.mktemp("inception") / "random-inception.pth"
    torch.save(net.state_dict(), path)
    return path


def test_evaluator_is_registered_once() -> None:
    assert FEATURE_EXTRACTORS_REGISTRY[EVALUATOR] is fidelity.FeatureExtractorEvaluator
    fidelity.register()  # again: a no-op


def test_another_class_under_the_evaluator_name_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(FEATURE_EXTRACTORS_REGISTRY, EVALUATOR, tf_inception.FeatureExtractorInceptionV3)
    with pytest.raises(GanlabError, match="already has a feature extractor"):
        fidelity.register()


def test_inception_constants_are_torch_fidelitys() -> None:
    assert extractors.URL_INCEPTION_V3 == tf_inception.URL_INCEPTION_V3
    assert extractors.INCEPTION_INPUT == tf_inception.FeatureExtractorInceptionV3.INPUT_IMAGE_SIZE


def test_the_evaluator_gives_the_same_features_through_torch_fidelity(tmp_path: Path) -> None:
    ex = get_extractor("evaluator", random_evaluator(tmp_path / "ev.pt"))
    x = torch.randint(0, 256, (5, 1, 28, 28), dtype=torch.uint8)
    theirs = fidelity.create(ex).eval()
    for mine, other in zip(ex.create()(x), theirs(x), strict=True):
        assert torch.equal(mine, other)
    with pytest.raises(GanlabError, match="provides features, logits"):
        extractors.EvaluatorFeatures(ex.weights, ["pool3"])


def test_the_extractor_is_an_explicit_choice(tmp_path: Path, no_downloads: Path) -> None:
    with pytest.raises(GanlabError, match="choose one of inception-v3-compat, evaluator"):
        get_extractor("auto")
    with pytest.raises(ExtractorUnavailable, match="needs its weights file"):
        get_extractor("evaluator")
    # an evaluator being available does not make a missing Inception-v3 fall back to it
    random_evaluator(tmp_path / "ev.pt")
    with pytest.raises(ExtractorUnavailable, match="not in torch-fidelity's cache"):
        get_extractor(INCEPTION)
    assert get_extractor("evaluator", tmp_path / "ev.pt").name == EVALUATOR


def test_missing_inception_says_where_it_looked(no_downloads: Path, tmp_path: Path) -> None:
    found, why = inception_status()
    assert found is None and str(no_downloads) in why and "does not download" in why
    with pytest.raises(ExtractorUnavailable, match="nowhere.pth is not a file"):
        find_inception_weights(tmp_path / "nowhere.pth")


def test_inception_weights_of_the_wrong_file_are_refused(no_downloads: Path, random_inception_weights: Path) -> None:
    no_downloads.parent.mkdir(parents=True)
    no_downloads.write_bytes(random_inception_weights.read_bytes())  # right name, wrong bytes
    with pytest.raises(ExtractorUnavailable, match="does not begin with 6726825d"):
        find_inception_weights()
    assert find_inception_weights(check_hash=False) == no_downloads  # found in the cache


def test_inception_from_a_local_file_extracts_and_states_its_protocol(no_downloads: Path,
                                                                      random_inception_weights: Path) -> None:
    ex = extractors.inception_extractor(random_inception_weights, check_hash=False)
    grey = np.random.default_rng(0).integers(0, 256, (2, 28, 28, 1), dtype=np.uint8)
    features = extract_features(grey, ex, batch_size=2)  # grey repeated to RGB, resized to 299 inside
    assert features.arrays["2048"].shape == (2, 2048) and features.arrays["logits_unbiased"].shape == (2, 1008)
    p = features.protocol
    assert p["extractor"] == INCEPTION and p["input_size"] == [299, 299] and "bilinear" in p["resize"]
    assert len(p["extractor_weights_sha256"]) == 64 and p["image_size"] == [28, 28]
    assert fidelity.calculate_metrics_kwargs(ex)["feature_extractor_weights_path"] == str(random_inception_weights)


def test_inception_file_that_is_not_a_state_dict_is_refused(tmp_path: Path, no_downloads: Path) -> None:
    path = tmp_path / INCEPTION_FILE
    path.write_bytes(b"not a torch file")
    with pytest.raises(ExtractorUnavailable, match="not a plain state dict"):
        extractors.inception_extractor(path, check_hash=False)


def test_evaluator_extractor_takes_its_own_size_and_channels(tmp_path: Path) -> None:
    ex = get_extractor("evaluator", random_evaluator(tmp_path / "ev.pt"))
    assert ex.protocol()["input_size"] == [28, 28] and ex.class_names == tuple(str(i) for i in range(10))
    ok = torch.zeros(3, 1, 28, 28, dtype=torch.uint8)
    assert ex.prepare(ok.expand(3, 3, 28, 28)).shape == (3, 1, 28, 28)  # grey stored as RGB
    colour = torch.zeros(3, 3, 28, 28, dtype=torch.uint8)
    colour[:, 0] = 9
    with pytest.raises(GanlabError, match="takes grey images"):
        ex.prepare(colour)
    with pytest.raises(GanlabError, match="takes 28x28 images and resizes nothing; got 32x32"):
        ex.prepare(torch.zeros(3, 1, 32, 32, dtype=torch.uint8))
    module = ex.create()
    with pytest.raises(GanlabError, match=r"uint8 images of shape \(B, 1, 28, 28\)"):
        module(torch.zeros(2, 1, 28, 28))
    features, logits = module(ok)
    assert features.shape == (3, 16) and logits.shape == (3, 10)


def test_weights_changed_after_the_choice_are_refused(tmp_path: Path) -> None:
    path = random_evaluator(tmp_path / "ev.pt")
    ex = get_extractor("evaluator", path)
    random_evaluator(tmp_path / "ev.pt", n_classes=5)  # retrained in between
    with pytest.raises(ExtractorUnavailable, match="changed since it was chosen"):
        ex.create()


def test_adapt_images_converts_channels_and_size_and_says_so() -> None:
    grey = torch.full((3, 1, 64, 64), 200, dtype=torch.uint8)
    out, done = adapt_images(grey, 3, 32)
    assert out.shape == (3, 3, 32, 32) and out.dtype == torch.uint8 and bool((out == 200).all())
    assert done == "grey repeated to RGB; 64x64 resized to 32x32 (bilinear, antialiased)"
    rgb = torch.zeros((2, 3, 8, 8), dtype=torch.uint8)
    rgb[:, 1] = 255  # pure green: luma 0.587 * 255 = 149.7
    out, done = adapt_images(rgb, 1, 8)
    assert out.shape == (2, 1, 8, 8) and bool((out == 150).all()) and done == "RGB to grey (BT.601 luma)"
    same, done = adapt_images(rgb, 3, 8)
    assert torch.equal(same, rgb) and done == ""
    with pytest.raises(GanlabError, match="cannot turn 2-channel images into 3-channel"):
        adapt_images(torch.zeros((1, 2, 8, 8), dtype=torch.uint8), 3, 8)
    with pytest.raises(GanlabError, match="expected uint8 images"):
        adapt_images(torch.zeros((1, 1, 8, 8)), 3, 8)
