"""DiscoGAN's mechanisms (Kim et al., 2017): its reconstruction distances, BCE losses and networks.

What DiscoGAN shares with CycleGAN (two domains, the pool, the figures) is in tests/models/test_translation.py.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from tiny_variants import build_translation as make, domain_batch as batch

from ganlab.models.discogan import discogan_discriminator, discogan_encoder, discogan_generator
from ganlab.models.losses import d_loss_bce, g_loss_nonsaturating

CONTRACT = {"width": 4, "pool_size": 6}  # the contract test's settings (read by tests/tiny_variants.py)
CONTRACT_CLASSES = 2  # likewise

SHAPE = (1, 28, 28)


def test_discogan_reconstruction_is_the_mse_of_the_round_trip_or_the_cosine_distance():
    v = make("discogan")
    x, y = batch([0, 0, 1, 1, 1])
    a = x[y == 0]
    g_ab, g_ba = v.nets["generator"], v.nets["generator_ba"]
    with torch.no_grad():  # batch norm in training mode: the statistics of this very batch, as in the step
        want = F.mse_loss(g_ba(g_ab(a)), a)
    assert v.step(x, y, 0)["loss_cycle_a"] == pytest.approx(want.item(), rel=1e-5)
    cos = make("discogan", distance="cosine")
    assert cos.reconstruction(x, x).item() == pytest.approx(0.0, abs=1e-6)
    assert cos.reconstruction(-x, x).item() == pytest.approx(2.0, abs=1e-6)
    assert cos.reconstruction(3 * x, x).item() == pytest.approx(0.0, abs=1e-6)  # a distance of directions only


def test_bce_losses_of_discogan():
    v = make("discogan")
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(6, 1, generator=g), torch.randn(6, 1, generator=g)
    assert v.adversarial_d(real, fake).item() == pytest.approx(d_loss_bce(real, fake).item(), rel=1e-6)
    assert v.adversarial_d(real, None).item() == pytest.approx(
        F.binary_cross_entropy_with_logits(real, torch.ones_like(real)).item(), rel=1e-6)
    assert v.adversarial_d(None, fake).item() == pytest.approx(
        F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)).item(), rel=1e-6)
    assert v.adversarial_g(fake).item() == pytest.approx(g_loss_nonsaturating(fake).item(), rel=1e-6)
    assert v.config.distance == "mse" and v.optimizers["generator"].defaults["weight_decay"] == 1e-5


def test_discogan_encoder_decoder_shapes():
    layers, c = discogan_encoder(1, 28, 8)
    assert torch.nn.Sequential(*layers)(torch.zeros(2, 1, 28, 28)).shape == (2, 32, 4, 4)  # 28 -> 14 -> 7 -> 4
    assert discogan_generator(1, 28, 8)(torch.zeros(2, 1, 28, 28)).shape == (2, 1, 28, 28)
    assert discogan_discriminator(1, 28, 8)(torch.zeros(2, 1, 28, 28)).shape == (2, 1)
    layers, c = discogan_encoder(3, 64, 64)  # the paper's 64 px: four 4x4 stride-2 layers to 4x4x512
    convs = [m for m in layers if isinstance(m, torch.nn.Conv2d)]
    assert [(m.kernel_size, m.out_channels) for m in convs] == [((4, 4), 64), ((4, 4), 128), ((4, 4), 256), ((4, 4), 512)]
    assert not isinstance(layers[1], torch.nn.BatchNorm2d)  # no batch norm after the first convolution
    assert discogan_generator(3, 64, 8)(torch.zeros(1, 3, 64, 64)).shape == (1, 3, 64, 64)
