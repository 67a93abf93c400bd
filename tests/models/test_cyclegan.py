"""CycleGAN's mechanisms (Zhu et al., 2017): the cycle and identity losses, least squares, the history, the networks.

What CycleGAN shares with DiscoGAN (two domains, the pool, the figures) is in tests/models/test_translation.py.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from tiny_variants import build_translation as make, domain_batch as batch

from ganlab.errors import ParamsError
from ganlab.models import registry
from ganlab.models.cyclegan import ImageHistory, lsgan_d_loss, lsgan_g_loss, patch_discriminator

CONTRACT = {"width": 4, "n_blocks": 1, "history": 3, "pool_size": 6, "lambda_identity": 0.5}  # the contract test's settings (read by tests/tiny_variants.py)
CONTRACT_CLASSES = 2  # the two domains, A = 0 and B = 1

SHAPE = (1, 28, 28)


# --------------------------------------------------------------------------- losses


def test_cycle_loss_is_the_l1_of_the_round_trip_and_enters_g_with_lambda_10():
    v = make("cyclegan")
    assert v.config.lambda_cycle == 10
    x, y = batch([0, 0, 0, 1, 1, 1])
    a, b = x[y == 0], x[y == 1]
    n = v.nets
    with torch.no_grad():  # the weights the step starts from (instance norm: train = eval)
        want_a = (n["generator_ba"](n["generator"](a)) - a).abs().mean()
        want_b = (n["generator"](n["generator_ba"](b)) - b).abs().mean()
        adv_ab = ((n["discriminator_b"](n["generator"](a)) - 1) ** 2).mean()
        adv_ba = ((n["discriminator_a"](n["generator_ba"](b)) - 1) ** 2).mean()
    losses = v.step(x, y, 0)
    assert losses["loss_cycle_a"] == pytest.approx(want_a.item(), rel=1e-5)
    assert losses["loss_cycle_b"] == pytest.approx(want_b.item(), rel=1e-5)
    assert losses["loss_g_ab"] == pytest.approx(adv_ab.item(), rel=1e-5)
    assert losses["loss_g_ba"] == pytest.approx(adv_ba.item(), rel=1e-5)
    total = adv_ab + adv_ba + 10 * (want_a + want_b)
    assert losses["loss_g"] == pytest.approx(total.item(), rel=1e-5)
    assert "loss_identity" not in losses  # off by default, as for most of the paper's tasks


def test_lsgan_losses_of_cyclegan():
    ones, zeros = torch.ones(4, 1, 12, 12), torch.zeros(4, 1, 12, 12)
    assert lsgan_d_loss(ones, zeros).item() == 0.0  # a perfect discriminator
    assert lsgan_d_loss(zeros, ones).item() == pytest.approx(1.0)  # 1/2 (1 + 1): the paper halves D's objective
    assert lsgan_d_loss(None, ones).item() == pytest.approx(0.5)  # a batch without real images of the domain
    assert lsgan_d_loss(zeros, None).item() == pytest.approx(0.5)
    assert lsgan_g_loss(zeros).item() == pytest.approx(1.0)  # (D(G(x)) - 1)^2, not halved
    assert lsgan_g_loss(ones).item() == 0.0
    v = make("cyclegan")
    assert v.adversarial_d(zeros, ones).item() == pytest.approx(1.0) and v.adversarial_g(zeros).item() == 1.0


def test_identity_loss_is_the_l1_of_each_generator_on_its_own_target_domain():
    v = make("cyclegan", lambda_identity=0.5)
    x, y = batch([0, 0, 1, 1])
    a, b = x[y == 0], x[y == 1]
    n = v.nets
    with torch.no_grad():
        want = F.l1_loss(n["generator"](b), b) + F.l1_loss(n["generator_ba"](a), a)
    losses = v.step(x, y, 0)
    assert losses["loss_identity"] == pytest.approx(want.item(), rel=1e-5)
    rest = losses["loss_g_ab"] + losses["loss_g_ba"] + 10 * (losses["loss_cycle_a"] + losses["loss_cycle_b"])
    assert losses["loss_g"] == pytest.approx(rest + 0.5 * 10 * want.item(), rel=1e-5)  # 0.5 lambda


def test_cyclegan_learning_rate_decays_linearly_to_zero():
    v = make("cyclegan", lr_decay_start=50, lr_decay_end=100)
    assert [v.learning_rate(s) for s in (0, 50, 75, 100, 150)] == pytest.approx([2e-4, 2e-4, 1e-4, 0.0, 0.0])
    x, y = batch([0, 1, 0, 1])
    v.step(x, y, 75)
    assert all(group["lr"] == pytest.approx(1e-4) for o in v.optimizers.values() for group in o.param_groups)
    assert make("cyclegan").learning_rate(10**6) == 2e-4  # constant by default
    with pytest.raises(ParamsError, match="lr_decay_end = 50 must come after lr_decay_start = 50"):
        registry.get("cyclegan").Config(lr_decay_start=50, lr_decay_end=50)


# --------------------------------------------------------------------------- history buffer


def test_history_returns_the_fakes_while_it_fills_and_stores_them():
    h = ImageHistory(4, (1, 2, 2))
    fakes = torch.arange(3 * 4, dtype=torch.float32).view(3, 1, 2, 2)
    assert torch.equal(h.query(fakes), fakes)
    assert int(h.count) == 3 and torch.equal(h.images[:3], fakes)
    assert torch.equal(ImageHistory(0, (1, 2, 2)).query(fakes), fakes)  # capacity 0: no history


def test_full_history_swaps_about_half_of_the_fakes_for_stored_ones():
    torch.manual_seed(0)
    h = ImageHistory(50, (1, 1, 1))
    h.query(-torch.arange(1, 51, dtype=torch.float32).view(50, 1, 1, 1))  # filled with -1 ... -50
    old = set(h.images.flatten().tolist())
    new = torch.arange(1, 1001, dtype=torch.float32).view(1000, 1, 1, 1)
    out = h.query(new).flatten().tolist()
    swapped = [i for i, v in enumerate(out) if v != i + 1]
    assert 400 < len(swapped) < 600  # p = 1/2 per image
    for i in swapped:  # a swapped fake was replaced by an older image: one stored before, or an earlier fake
        assert out[i] in old or 1 <= out[i] < i + 1
    stored = set(h.images.flatten().tolist())
    assert len(stored) == 50 and stored <= old | set(range(1, 1001))
    assert int(h.count) == 50


def test_cyclegan_discriminator_learns_from_the_history_and_checkpoints_carry_it():
    v = make("cyclegan", history=5)
    x, y = batch([0, 0, 0, 1, 1])
    v.step(x, y, 0)
    assert int(v.nets["history_b"].count) == 3 and int(v.nets["history_a"].count) == 2  # G(a) are B fakes
    state = v.state_dict()
    other = make("cyclegan", seed=9, history=5)
    other.load_state_dict(state)
    assert torch.equal(other.nets["history_b"].images, v.nets["history_b"].images)
    assert int(other.nets["history_b"].count) == 3
    assert "history_a" not in make("discogan").nets  # DiscoGAN's D sees the newest fakes only


# --------------------------------------------------------------------------- networks at 28 px and the paper's sizes


def test_cyclegan_networks_keep_the_image_shape_and_judge_patches():
    v = make("cyclegan", width=8, n_blocks=2)
    x = torch.zeros(2, *SHAPE)
    assert v.nets["generator"](x).shape == (2, *SHAPE)
    assert v.nets["discriminator_a"](x).shape == (2, 1, 12, 12)  # 16 px patches of a 28 px image
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in v.nets.modules())  # instance norm only
    d = patch_discriminator(3, 64, 3)  # the paper's 70x70 PatchGAN on a 256 px image: a 30x30 map
    assert d(torch.zeros(1, 3, 256, 256)).shape == (1, 1, 30, 30)
    convs = [m for m in d.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 512, 1]  # C64-C128-C256-C512
    with pytest.raises(ParamsError, match="patch_layers = 5 leaves no patch of a 28 px image"):
        make("cyclegan", patch_layers=5)
