"""The evaluator network: it learns, it is deterministic for a seed, and its files round-trip."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ganlab.errors import GanlabError
from ganlab.eval.config import EvaluatorConfig
from ganlab.eval.evaluator import (
    EvaluatorNet,
    augment,
    fit_whitening,
    load_evaluator,
    predict,
    provenance_path,
    save_evaluator,
    train_evaluator,
)
from ganlab.images import nchw, to_unit_range

CLASSES = [f"c{i}" for i in range(4)]


def squares(n: int, seed: int, channels: int = 1, size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Class c is a bright 4x4 square in quadrant c of a noisy dark image (N, H, W, C)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(CLASSES), n)
    images = rng.integers(0, 60, (n, size, size, channels)).astype(np.uint8)
    half = size // 2
    for i, c in enumerate(labels):
        y, x = (c // 2) * half + 2, (c % 2) * half + 2
        images[i, y : y + 4, x : x + 4] = 230
    return images, labels


TINY = EvaluatorConfig(width=4, features=16, epochs=3, batch_size=32, lr=0.05, augment="none")


def test_learns_a_separable_task_and_reports_test_accuracy() -> None:
    x, y = squares(512, seed=0)
    test = squares(256, seed=1)
    ev = train_evaluator(x, y, CLASSES, TINY, test=test, dataset="squares", progress=False)
    assert ev.info["test_accuracy"] >= 0.9
    assert ev.info["n_train"] == 512 and ev.info["n_test"] == 256 and ev.info["epochs"] == 3
    assert not ev.net.training


def test_same_seed_same_weights_other_seed_other_weights_caller_rng_untouched() -> None:
    x, y = squares(256, seed=0)
    cfg = EvaluatorConfig(width=4, features=16, epochs=1, batch_size=32, augment="crop")
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = train_evaluator(x, y, CLASSES, cfg, progress=False).net.state_dict()
    assert torch.equal(torch.get_rng_state(), before)
    b = train_evaluator(x, y, CLASSES, cfg, progress=False).net.state_dict()
    c = train_evaluator(x, y, CLASSES, EvaluatorConfig(**{**cfg.__dict__, "seed": 1}), progress=False).net.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_save_load_round_trip_with_provenance(tmp_path) -> None:
    x, y = squares(128, seed=0, channels=3, size=8)
    ev = train_evaluator(x, y, CLASSES, EvaluatorConfig(width=4, features=8, epochs=1, batch_size=32),
                         test=squares(64, seed=1, channels=3, size=8), dataset="squares",
                         data_fingerprint="abc", progress=False)
    path = save_evaluator(ev, tmp_path / "evaluator.pt")
    info = json.loads(provenance_path(path).read_text())
    for key in ("dataset", "data_fingerprint", "seed", "epochs", "test_accuracy", "weights_sha256", "classes"):
        assert key in info, key
    loaded = load_evaluator(path)
    assert loaded.info["weights_sha256"] == info["weights_sha256"] and loaded.class_names == CLASSES
    images = nchw(x[:20])
    for got, want in zip(predict(loaded.net, images), predict(ev.net, images)):
        assert torch.equal(got, want)


def test_stale_provenance_or_foreign_file_is_refused(tmp_path) -> None:
    x, y = squares(64, seed=0)
    path = save_evaluator(train_evaluator(x, y, CLASSES, EvaluatorConfig(width=4, features=8, epochs=1, batch_size=32),
                                          progress=False), tmp_path / "evaluator.pt")
    side = provenance_path(path)
    side.write_text(json.dumps({**json.loads(side.read_text()), "weights_sha256": "0" * 64}))
    with pytest.raises(GanlabError, match="stale"):
        load_evaluator(path)
    torch.save({"some": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(GanlabError, match="other.pt: not an evaluator"):
        load_evaluator(tmp_path / "other.pt")
    with pytest.raises(GanlabError, match="no such"):
        load_evaluator(tmp_path / "missing.pt")


def test_bad_inputs_name_the_problem() -> None:
    x, y = squares(16, seed=0)
    with pytest.raises(GanlabError, match="fewer than batch_size"):
        train_evaluator(x, y, CLASSES, EvaluatorConfig(batch_size=32), progress=False)
    with pytest.raises(GanlabError, match="labels must lie in 0..3"):
        train_evaluator(x, y + 4, CLASSES, EvaluatorConfig(batch_size=8), progress=False)
    with pytest.raises(GanlabError, match="augment"):
        EvaluatorConfig(augment="rotate")


def test_augment_shifts_and_mirrors_without_changing_shape() -> None:
    x = torch.zeros(64, 1, 16, 16, dtype=torch.uint8)
    x[:, :, 6:10, 2:4] = 255  # a bar left of centre
    g = torch.Generator().manual_seed(0)
    assert torch.equal(augment(x, "none", g), x)
    shifted = augment(x, "crop", g)
    assert shifted.shape == x.shape and shifted.dtype == torch.uint8
    assert not torch.equal(shifted, x) and (shifted.flatten(1).sum(1) <= x.flatten(1).sum(1)).all()
    flipped = augment(x, "crop+flip", g)
    right = flipped[:, :, :, 8:].flatten(1).sum(1) > 0  # the bar moved to the right half: mirrored
    assert 0 < int(right.sum()) < 64


def test_patch_stem_learns_halves_the_resolution_and_round_trips(tmp_path) -> None:
    x, y = squares(512, seed=0, channels=3)
    cfg = EvaluatorConfig(width=4, features=16, epochs=3, batch_size=32, augment="none", stem="patch")
    ev = train_evaluator(x, y, CLASSES, cfg, test=squares(256, seed=1, channels=3), progress=False)
    assert ev.info["test_accuracy"] >= 0.9
    assert ev.net.arch["stem"] == "patch"
    stem = ev.net.body[0]
    assert stem.kernel_size == (2, 2) and stem.stride == (2, 2)
    loaded = load_evaluator(save_evaluator(ev, tmp_path / "evaluator.pt"))
    assert loaded.net.arch == ev.net.arch
    images = nchw(x[:20])
    for got, want in zip(predict(loaded.net, images), predict(ev.net, images)):
        assert torch.equal(got, want)


def test_whitening_stem_decorrelates_the_patches_stays_fixed_and_round_trips(tmp_path) -> None:
    x, y = squares(512, seed=0, channels=3)
    images = nchw(x)
    net = EvaluatorNet(3, len(CLASSES), 16, width=4, features=16, stem="whiten")
    fit_whitening(net, images)
    stem = net.body[0]
    assert stem.kernel_size == (2, 2) and stem.stride == (2, 2) and stem.out_channels == 24
    with torch.no_grad():
        out = stem(to_unit_range(images)).permute(0, 2, 3, 1).reshape(-1, 24).double()
    half = out[:, :12]
    assert torch.equal(out[:, 12:], -half)  # each axis twice, signed
    cov = torch.cov(half.T)
    off = cov - torch.diag(torch.diagonal(cov))
    assert off.abs().max() < 1e-4  # decorrelated
    variances = torch.diagonal(cov)
    assert variances.max() < 1.0 + 1e-6 and variances.max() > 0.9  # unit variance, less the eps on the weakest axes
    cfg = EvaluatorConfig(width=4, features=16, epochs=3, batch_size=32, augment="none", stem="whiten")
    ev = train_evaluator(x, y, CLASSES, cfg, test=squares(256, seed=1, channels=3), progress=False)
    assert ev.info["test_accuracy"] >= 0.9
    fitted = EvaluatorNet(3, len(CLASSES), 16, width=4, features=16, stem="whiten")
    fit_whitening(fitted, images[torch.randperm(512, generator=torch.Generator().manual_seed(0))])
    assert torch.equal(ev.net.body[0].weight, fitted.body[0].weight)  # training left the whitening as fitted
    assert not ev.net.body[0].weight.requires_grad
    loaded = load_evaluator(save_evaluator(ev, tmp_path / "evaluator.pt"))
    assert loaded.net.arch["stem"] == "whiten"
    for got, want in zip(predict(loaded.net, images[:20]), predict(ev.net, images[:20])):
        assert torch.equal(got, want)
    with pytest.raises(GanlabError, match="stem whiten"):
        fit_whitening(EvaluatorNet(3, len(CLASSES), 16, width=4, features=16, stem="patch"), images)


def test_default_stem_keeps_the_old_architecture_record() -> None:
    x, y = squares(64, seed=0)
    ev = train_evaluator(x, y, CLASSES, EvaluatorConfig(width=4, features=8, epochs=1, batch_size=32), progress=False)
    assert "stem" not in ev.net.arch  # weights files written before the stem option load unchanged
    assert ev.net.body[0].kernel_size == (3, 3)


def test_label_smoothing_changes_the_training() -> None:
    x, y = squares(128, seed=0)
    cfg = EvaluatorConfig(width=4, features=8, epochs=1, batch_size=32, augment="none")
    plain = train_evaluator(x, y, CLASSES, cfg, progress=False).net.state_dict()
    smooth = train_evaluator(x, y, CLASSES, EvaluatorConfig(**{**cfg.__dict__, "label_smoothing": 0.2}),
                             progress=False).net.state_dict()
    assert not all(torch.equal(plain[k], smooth[k]) for k in plain)


def test_bad_stem_smoothing_or_size_name_the_problem() -> None:
    with pytest.raises(GanlabError, match="stem = 'zca'"):
        EvaluatorConfig(stem="zca")
    with pytest.raises(GanlabError, match="label_smoothing"):
        EvaluatorConfig(label_smoothing=1.0)
    x, y = squares(64, seed=0, size=8)
    with pytest.raises(GanlabError, match="stem patch needs 16 px"):
        train_evaluator(x, y, CLASSES, EvaluatorConfig(width=4, features=8, batch_size=32, stem="patch"),
                        progress=False)
