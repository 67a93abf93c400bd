"""ACGAN (Odena et al., 2017): the auxiliary classifier and its loss in both players."""

from __future__ import annotations

import pytest
import torch
from tiny_variants import build_labelled as make


CONTRACT = {"width": 8}  # the contract test's settings (read by tests/tiny_variants.py)

SHAPE = (1, 28, 28)


def test_acgan_discriminator_has_a_class_head_and_both_players_use_the_class_loss():
    v = make("acgan", width=8)
    x = torch.rand(8, *SHAPE) * 2 - 1
    src, cls = v.discriminate(x)
    assert src.shape == (8, 1) and cls.shape == (8, 10)
    # the class term is in both losses: with class_weight 0 they are the plain GAN losses
    y = torch.randint(0, 10, (8,))
    torch.manual_seed(1)
    with_class = make("acgan", width=8).step(x, y, 0)
    torch.manual_seed(1)
    without = make("acgan", width=8, class_weight=0.0).step(x, y, 0)
    assert with_class["loss_g"] - without["loss_g"] == pytest.approx(with_class["class_loss_fake"], rel=1e-4)


def test_acgan_learns_to_classify_real_images():
    # classes that are trivially separable: class k is an image of constant brightness k
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (256,), generator=g)
    x = (y.float() / 3 * 2 - 1).view(-1, 1, 1, 1).expand(-1, *SHAPE).contiguous()
    v = make("acgan", n_classes=4, width=8)
    accuracy = [v.step(x[i : i + 32], y[i : i + 32], i)["real_class_accuracy"] for i in range(0, 256, 32) for _ in range(4)]
    assert sum(accuracy[-4:]) / 4 > 0.9 > accuracy[0]
