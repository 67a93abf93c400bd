"""DRAGAN's penalty: (||grad D|| - 1)^2 at points beside the real data, none at the fakes; lambda = 0 is GAN."""

from __future__ import annotations

import pytest
import torch
from tiny_variants import build, random_images

from ganlab.models import dragan

CONTRACT = {"hidden": 32}  # the contract test's settings (read by tests/tiny_variants.py)


def linear_discriminator(v, scale: float) -> torch.nn.Linear:
    """D(x) = w . x with ||w|| = scale: its gradient is w everywhere, so the penalty is lambda * (scale - 1)^2."""
    d = torch.nn.Linear(28 * 28, 1, bias=False)
    with torch.no_grad():
        d.weight.copy_(torch.randn(1, 28 * 28, generator=torch.Generator().manual_seed(2)))
        d.weight.mul_(scale / d.weight.norm())
    v.nets["discriminator"] = d
    return d


@pytest.mark.parametrize("scale, want", [(1.0, 0.0), (2.0, 10.0), (3.0, 40.0), (0.5, 2.5)])
def test_the_penalty_is_lambda_times_the_squared_distance_of_the_gradient_norm_from_one(scale, want):
    v = build("dragan", hidden=16)
    d = linear_discriminator(v, scale)
    penalty = v.penalty(random_images(8))
    assert penalty.item() == pytest.approx(want, abs=1e-4)
    (grad,) = torch.autograd.grad(penalty, d.weight)  # at norm 1 the penalty is at its minimum: no pull on D
    assert (grad.norm().item() < 1e-4) == (scale == 1.0)


def test_the_penalty_is_taken_beside_the_real_data_not_at_the_fakes(monkeypatch):
    seen, penalty = [], dragan.gradient_penalty

    def spy(critic, a, b):  # the ends of the segments the penalty is taken on
        seen.append((a.detach().clone(), b.detach().clone()))
        return penalty(critic, a, b)

    monkeypatch.setattr(dragan, "gradient_penalty", spy)
    v, x = build("dragan", hidden=16), random_images(8)
    v.step(x, None, 0)
    ((perturbed, centre),) = seen
    assert torch.equal(centre, x)  # one end of every penalised segment is the real batch itself
    shift = perturbed - x  # the other is x + 0.5 * std(x) * u, u ~ U[0, 1): beside it, whatever the generator draws
    assert shift.min() >= 0 and shift.max() <= 0.5 * x.std(correction=0) + 1e-6
    assert shift.mean() == pytest.approx(0.25 * x.std(correction=0).item(), rel=0.05)  # u fills [0, 1), mean 1/2


def test_no_penalty_is_the_plain_gan_step_bit_for_bit():
    # GAN with DRAGAN's optimizer and no dropout; DRAGAN with Adam's beta2 = 0.999, as GAN has
    gan = build("gan", hidden=16, dropout=0.0, lr=1e-4, beta1=0.5)
    plain = build("dragan", hidden=16, gp_weight=0.0, beta2=0.999)
    penalised = build("dragan", hidden=16, beta2=0.999)
    x = random_images(8)
    losses = []
    for v in (gan, plain, penalised):
        torch.manual_seed(5)
        losses.append(v.step(x, None, 0))
    assert losses[0] == losses[1] and losses[2]["loss_d"] > losses[0]["loss_d"]  # the penalty adds to D's loss
    a, b, c = (v.nets.state_dict() for v in (gan, plain, penalised))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a if k.startswith("discriminator"))


def test_the_defaults_are_the_authors():
    v = build("dragan", hidden=16)
    assert (v.config.gp_weight, v.config.perturb) == (10.0, 0.5)
    assert v.optimizers["discriminator"].defaults["betas"] == (0.5, 0.9)
    assert v.optimizers["discriminator"].defaults["lr"] == 1e-4
    assert not any(isinstance(m, torch.nn.Dropout) and m.p > 0 for m in v.nets["discriminator"].modules())
