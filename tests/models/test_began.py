"""BEGAN (Berthelot et al., 2017): the proportional control of k, Glorot initialisation, k in the checkpoint."""

from __future__ import annotations

import pytest
import torch
from tiny_variants import build as make, random_images as images, short_config as config

from ganlab.train.trainer import Trainer

CONTRACT = {"width": 8, "hidden": 8, "z_dim": 8}  # the contract test's settings (read by tests/tiny_variants.py)


def test_began_k_follows_the_proportional_control_and_stays_in_0_1():
    v = make("began", width=8, hidden=8, z_dim=8, gamma=0.5, lambda_k=0.1)
    x = images(8)
    k = 0.0
    for step in range(4):
        losses = v.step(x, None, step)
        balance = 0.5 * losses["loss_real"] - losses["loss_g"]
        k = min(max(k + 0.1 * balance, 0.0), 1.0)
        assert v.k == pytest.approx(k) and losses["k"] == pytest.approx(k)
        assert losses["m_global"] == pytest.approx(losses["loss_real"] + abs(balance))
    v.k = 0.999
    v.config = type(v.config)(**{**v.config.__dict__, "lambda_k": 1.0, "gamma": 1.0})
    v.step(x, None, 4)
    assert 0.0 <= v.k <= 1.0


def test_began_networks_start_from_glorot_uniform_weights_and_zero_biases():
    v = make("began", width=8, hidden=8, z_dim=8)
    layers = [m for m in v.nets.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert len(layers) > 10
    for m in layers:
        fan_in = m.weight[0].numel()
        fan_out = m.weight.shape[0] * m.weight[0, 0].numel()
        bound = (6 / (fan_in + fan_out)) ** 0.5
        assert torch.count_nonzero(m.bias) == 0
        # Glorot's range, filled: PyTorch's default range, 1/sqrt(fan_in), is narrower for the square
        # convolutions and wider for the linear map into the decoder's first feature maps
        assert 0.8 * bound < m.weight.abs().max() <= bound


def test_began_checkpoint_keeps_k(tmp_path):
    x = images(16)
    a = Trainer(make("began", width=8, hidden=8, z_dim=8, lambda_k=0.5), x, None, config(), tmp_path)
    a.fit(progress=False)
    assert a.variant.k != 0.0
    b = Trainer(make("began", width=8, hidden=8, z_dim=8, lambda_k=0.5, seed=3), x, None, config(), tmp_path)
    assert b.load_checkpoint() and b.variant.k == a.variant.k
