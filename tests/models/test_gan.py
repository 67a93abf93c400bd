"""GAN (Goodfellow et al., 2014) in its toy settings: the affine generator and logistic discriminator of the 1-D
toy of its Figure 1, and the plain ReLU MLP of the 2-D toys (arch toy)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_variants import build_labelled as make

from ganlab.errors import ParamsError
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


def test_toy_arch_is_the_unrolled_gan_relu_mlp_with_a_linear_output():
    """arch toy (2-D points fed as (2, 1, 1)): two hidden ReLU layers each, no batch norm, no dropout, no tanh,
    so a point can land at the grid's corner (4, 4); samples come back as (N, 2) points, not images."""
    from torch import nn

    v = make("gan", shape=(2, 1, 1), n_classes=0, arch="toy", hidden=16, z_dim=8)
    g, d = v.nets["generator"], v.nets["discriminator"]
    assert [type(m) for m in g] == [nn.Linear, nn.ReLU, nn.Linear, nn.ReLU, nn.Linear]
    assert [type(m) for m in d] == [nn.Linear, nn.ReLU, nn.Linear, nn.ReLU, nn.Linear]
    assert [(m.in_features, m.out_features) for m in g if isinstance(m, nn.Linear)] == [(8, 16), (16, 16), (16, 2)]
    assert [(m.in_features, m.out_features) for m in d if isinstance(m, nn.Linear)] == [(2, 16), (16, 16), (16, 1)]
    assert not v.makes_images
    with torch.no_grad():
        g[-1].weight.zero_()
        g[-1].bias.copy_(torch.tensor([4.0, -4.0]))  # the output layer alone decides: no squashing after it
        x = v.sample(v.noise(5))
    assert x.shape == (5, 2, 1, 1) and torch.equal(x.flatten(1), torch.tensor([[4.0, -4.0]] * 5))
    assert torch.equal(v.points(x), x.flatten(1)) and v.d_logits(x).shape == (5, 1)
    # the other archs have no points; the toy arch takes points only
    assert make("gan", shape=(1, 1, 1), n_classes=0, arch="affine", z_dim=1).points(x) is None
    with pytest.raises(ParamsError, match=r"arch = 'toy' is for points, fed as \(d, 1, 1\); the data here are \(1, 28, 28\)"):
        make("gan", shape=(1, 28, 28), n_classes=0, arch="toy")


def test_toy_arch_learns_to_put_its_points_on_a_two_mode_mixture(tmp_path):
    """The MLP moves its points from near the origin onto both modes at (+-2, 0) (std 0.05) in 600 steps (over
    0.8 of them within 3 std for seeds 0-2), and logs only its losses."""
    from ganlab.eval.modes import mode_measures

    centres = torch.tensor([[2.0, 0.0], [-2.0, 0.0]])
    g = torch.Generator().manual_seed(0)
    x = (centres[torch.randint(0, 2, (4096,), generator=g)] + 0.05 * torch.randn(4096, 2, generator=g)).view(-1, 2, 1, 1)
    v = make("gan", shape=(2, 1, 1), n_classes=0, arch="toy", hidden=32, z_dim=4, lr=1e-3)
    before = mode_measures(v.points(v.sample(v.noise(500))).detach().numpy(), centres.numpy(), 0.05)
    cfg = TrainConfig(steps=600, batch_size=128, sample_every=10**6, checkpoint_every=10**6, log_every=100,
                      dvclive=False)
    summary = Trainer(v, x, None, cfg, tmp_path).fit(progress=False)
    assert set(summary) >= {"loss_d", "loss_g"} and "w" not in summary
    with torch.no_grad():
        after = mode_measures(v.points(v.sample(v.noise(500))).numpy(), centres.numpy(), 0.05)
    assert before["high_quality"] < 0.05 and after["high_quality"] > 0.5 and after["modes"] == 2
    # the trainer keeps the fixed-noise points of the last step (n_samples of them) for the figure, as numbers
    kept = np.load(tmp_path / "samples" / "step_0000600.npy")
    assert kept.shape == (64, 2) and kept.dtype == np.float32 and [p.name for p in (tmp_path / "samples").iterdir()] == \
        ["step_0000600.npy"]
