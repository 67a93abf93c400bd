"""SGAN (Odena, 2016): the N+1-class discriminator, its few labelled images, its test accuracy."""

from __future__ import annotations

import json

import pytest
import torch
from tiny_variants import build as make, random_images as images, short_config as config

from ganlab.train.trainer import Trainer

CONTRACT = {"width": 8, "labels_per_class": 1, "labelled_batch": 4}  # the contract test's settings (read by tests/tiny_variants.py)
CONTRACT_CLASSES = 2  # two classes, so that the contract's 8-image batches hold both

SHAPE = (1, 28, 28)


def test_sgan_fake_class_losses_are_the_n_plus_1_softmax():
    from ganlab.models.sgan import fake_logit_loss

    logits = torch.randn(6, 11)
    p = logits.softmax(1)
    assert torch.allclose(fake_logit_loss(logits, fake=True), -p[:, -1].log().mean(), atol=1e-6)
    assert torch.allclose(fake_logit_loss(logits, fake=False), -(1 - p[:, -1]).log().mean(), atol=1e-6)


def test_sgan_keeps_labels_per_class_chosen_by_seed_and_never_reads_the_batch_labels():
    x, y = images(40), torch.arange(40) % 4
    v = make("sgan", 4, width=8, labels_per_class=3, labelled_batch=6)
    v.prepare(x, y, seed=0)
    assert torch.bincount(v.labelled_y, minlength=4).tolist() == [3, 3, 3, 3]
    for k in range(len(v.labelled_y)):  # each kept image carries its own label
        match = (x == v.labelled_x[k]).flatten(1).all(1)
        assert y[match][0] == v.labelled_y[k]
    same = make("sgan", 4, width=8, labels_per_class=3)
    same.prepare(x, y, seed=0)
    other = make("sgan", 4, width=8, labels_per_class=3)
    other.prepare(x, y, seed=1)
    assert torch.equal(same.labelled_x, v.labelled_x) and not torch.equal(other.labelled_x, v.labelled_x)
    # the batch's labels are not used: the same step with scrambled labels gives the same weights
    runs = []
    for labels in (y[:8], torch.zeros(8, dtype=torch.long)):
        w = make("sgan", 4, width=8, labels_per_class=3, labelled_batch=6)
        w.prepare(x, y, seed=0)
        torch.manual_seed(5)
        w.step(x[:8], labels, 0)
        runs.append({k: t.clone() for k, t in w.nets.state_dict().items()})
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])


def test_sgan_needs_enough_labelled_images_per_class():
    from ganlab.errors import ParamsError

    v = make("sgan", 3, width=8, labels_per_class=5)
    with pytest.raises(ParamsError, match="labels_per_class = 5: class 2 has only 2"):
        v.prepare(images(12), torch.tensor([0] * 5 + [1] * 5 + [2] * 2), seed=0)


def test_sgan_reports_its_and_the_baselines_test_accuracy_through_the_trainer(tmp_path):
    """Two classes told apart by brightness: both classifiers learn it; the metrics reach dvclive."""
    g = torch.Generator().manual_seed(0)
    y = torch.arange(64) % 2
    x = (torch.rand(64, *SHAPE, generator=g) * 0.5 - 0.9 + y.view(-1, 1, 1, 1) * 1.3).clamp(-1, 1)
    test_y = torch.arange(40) % 2
    test_x = (torch.rand(40, *SHAPE, generator=g) * 0.5 - 0.9 + test_y.view(-1, 1, 1, 1) * 1.3).clamp(-1, 1)
    v = make("sgan", 2, width=8, labels_per_class=4, labelled_batch=8)
    t = Trainer(v, x, y, config(steps=30, checkpoint_every=30, sample_every=30, log_every=10), tmp_path,
                test=(test_x, test_y))
    summary = t.fit(progress=False)
    assert summary["test"]["accuracy"] > 0.9 and summary["test"]["baseline_accuracy"] > 0.9
    assert summary["test"]["n_labelled"] == 8 and summary["test"]["n_test"] == 40
    metrics = json.loads((tmp_path / "dvclive" / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] == pytest.approx(summary["test"]["accuracy"])
