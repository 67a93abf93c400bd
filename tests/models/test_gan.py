"""GAN (Goodfellow et al., 2014) as the 1-D toy of its Figure 1: the affine generator and logistic discriminator."""

from __future__ import annotations

import pytest
import torch
from tiny_variants import build_labelled as make

from ganlab.train.trainer import TrainConfig, Trainer

CONTRACT = {"hidden": 32}  # the contract test's settings (read by tests/tiny_variants.py)


def test_toy_gan_is_the_affine_generator_and_logistic_discriminator():
    v = make("gan", shape=(1, 1, 1), n_classes=0, arch="affine", z_dim=1)
    g, d = v.nets["generator"], v.nets["discriminator"]
    assert isinstance(g, torch.nn.Linear) and (g.in_features, g.out_features) == (1, 1)
    assert isinstance(d, torch.nn.Linear) and (d.in_features, d.out_features) == (1, 1)
    assert not v.makes_images
    with torch.no_grad():
        z = torch.tensor([[0.0], [1.0]])
        out = v.sample(z).flatten()
    assert out[0].item() == pytest.approx(g.bias.item()) and out[1].item() == pytest.approx(g.weight.item() + g.bias.item())


def test_toy_gan_logs_w_and_b_and_b_moves_to_the_data_mean(tmp_path):
    import json

    v = make("gan", shape=(1, 1, 1), n_classes=0, arch="affine", z_dim=1, lr=2e-3)
    x = (4.0 + 1.25 * torch.randn(4096, generator=torch.Generator().manual_seed(0))).view(-1, 1, 1, 1)
    cfg = TrainConfig(steps=3000, batch_size=64, sample_every=10**6, checkpoint_every=10**6, log_every=100)
    b0 = v.nets["generator"].bias.item()
    summary = Trainer(v, x, None, cfg, tmp_path).fit(progress=False)
    assert {"w", "b", "w1", "b1"} <= set(summary)
    assert abs(b0 - 4.0) > 2.5 and abs(summary["b"] - 4.0) < 1.0  # b travels from near 0 to near mu
    logged = json.loads((tmp_path / "dvclive" / "metrics.json").read_text())["train"]
    assert logged["b"] == pytest.approx(summary["b"])
    assert not (tmp_path / "samples").exists()  # no image grids of 1-D data
