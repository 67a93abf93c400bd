"""CGAN (Mirza & Osindero, 2014): the one-hot label in both networks, the paper's dropout."""

from __future__ import annotations

import torch
from tiny_variants import build_labelled as make


CONTRACT = {"hidden": 32}  # the contract test's settings (read by tests/tiny_variants.py)


def test_cgan_feeds_the_one_hot_label_to_both_networks_with_the_papers_dropout():
    v = make("cgan", hidden=32)
    g, d = v.nets["generator"], v.nets["discriminator"]
    assert g[0].in_features == v.config.z_dim + 10 and d[0].in_features == 28 * 28 + 10
    assert [m.p for m in d.modules() if isinstance(m, torch.nn.Dropout)] == [0.5, 0.5]  # the paper's
    assert not [m for m in g.modules() if isinstance(m, torch.nn.Dropout)]  # off by default (see cgan.py)
    g_paper = make("cgan", hidden=32, g_dropout=0.5).nets["generator"]
    assert [m.p for m in g_paper.modules() if isinstance(m, torch.nn.Dropout)] == [0.5, 0.5]
    v.nets.eval()
    z = v.noise(1).repeat(10, 1)
    with torch.no_grad():
        images = v.sample(z, torch.arange(10))
    assert all(not torch.equal(images[0], images[k]) for k in range(1, 10))  # the label changes the image
    with torch.no_grad():  # and so does the discriminator's verdict on one image
        a = v.discriminate(images[:1], torch.tensor([0]))
        b = v.discriminate(images[:1], torch.tensor([1]))
    assert not torch.equal(a, b)
