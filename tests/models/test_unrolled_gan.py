"""Unrolled GAN's lookahead: K = 0 is GAN's step, the discriminator's update is the plain one, and the
generator's gradient runs through the unrolled discriminator steps."""

from __future__ import annotations

import pytest
import torch
from tiny_variants import build, build_labelled, random_images

from ganlab.models.unrolled_gan import optimizer_step

CONTRACT = {"hidden": 32, "unroll_steps": 2}  # the contract test's settings (read by tests/tiny_variants.py)


def states(v) -> dict[str, torch.Tensor]:
    """Every weight and every optimizer moment of a variant, by name."""
    out = {f"nets.{k}": t for k, t in v.nets.state_dict().items()}
    for role, optimizer in v.optimizers.items():
        for i, s in optimizer.state_dict()["state"].items():
            out.update({f"{role}.{i}.{k}": torch.as_tensor(t) for k, t in s.items()})
    return out


def one_step(v, x: torch.Tensor, seed: int = 5) -> dict[str, float]:
    torch.manual_seed(seed)  # the same noise and dropout draws for every variant compared
    return v.step(x, None, 0)


def test_no_unrolling_is_the_plain_gan_step_bit_for_bit():
    gan = build("gan", hidden=16, z_dim=256, lr=1e-4, beta1=0.5)  # unrolled_gan's defaults, on GAN
    unrolled = build("unrolled_gan", hidden=16, unroll_steps=0)
    x = random_images(8)
    for seed in (5, 6):  # the second step starts from a stepped optimizer
        assert one_step(gan, x, seed) == one_step(unrolled, x, seed)
    a, b = states(gan), states(unrolled)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_the_discriminator_takes_the_plain_update_and_only_the_generator_looks_ahead():
    gan = build("gan", hidden=16, z_dim=256, lr=1e-4, beta1=0.5)
    unrolled = build("unrolled_gan", hidden=16, unroll_steps=3)
    x = random_images(8)
    assert one_step(gan, x)["loss_d"] == one_step(unrolled, x)["loss_d"]  # one step: after it the generators differ
    a, b = states(gan), states(unrolled)
    disc = [k for k in a if k.startswith(("nets.discriminator", "discriminator."))]
    gen = [k for k in a if k.startswith("nets.generator.") and a[k].is_floating_point() and "running" not in k]
    assert disc and all(torch.equal(a[k], b[k]) for k in disc)
    assert any(not torch.equal(a[k], b[k]) for k in gen)  # the generator's loss was taken three steps ahead


def test_the_first_unrolled_step_is_the_discriminators_actual_update():
    v = build("unrolled_gan", hidden=16, dropout=0.0, unroll_steps=1)
    x = random_images(8)
    one_step(v, x, 5)
    one_step(v, x, 6)  # Adam's moments are non-zero from here on
    fake = v.sample(v.noise(8))
    ahead = v.lookahead(x, fake)
    v.update("discriminator", v.d_loss(v.d_logits(x), v.d_logits(fake.detach())))
    for name, p in v.nets["discriminator"].named_parameters():
        torch.testing.assert_close(ahead[name], p, rtol=1e-5, atol=1e-7)
    assert all(not p.requires_grad or p.grad is not None for p in v.nets["discriminator"].parameters())


def affine_toy(steps: int):
    """The 1-D toy: G(z) = w*z + b, D(x) = w1*x + b1 (a logit), its discriminator stepped by plain SGD."""
    v = build_labelled("unrolled_gan", shape=(1, 1, 1), n_classes=0, arch="affine", z_dim=1, unroll_steps=steps)
    d = v.nets["discriminator"]
    with torch.no_grad():
        d.weight.fill_(0.7), d.bias.fill_(-0.3)
    v.optimizers["discriminator"] = torch.optim.SGD(d.parameters(), lr=0.5)
    return v


def test_the_generator_gradient_is_the_hand_unrolled_one_through_an_sgd_step():
    v, eta = affine_toy(1), 0.5
    g = torch.Generator().manual_seed(0)
    real, z = 4.0 + 1.25 * torch.randn(16, 1, generator=g), torch.randn(16, 1, generator=g)
    w, b = v.nets["generator"].weight, v.nets["generator"].bias
    fake = v.sample(z)
    loss = v.g_loss(v.d_logits_at(v.lookahead(real.view(-1, 1, 1, 1), fake), {}, fake))
    got = torch.autograd.grad(loss, [w, b])

    # by hand: the BCE discriminator's gradient at (w1, b1), one SGD step, the generator's loss after it
    w1, b1 = v.nets["discriminator"].weight.detach(), v.nets["discriminator"].bias.detach()
    xf = z @ w.T + b  # (16, 1)
    sr, sf = real * w1 + b1, xf * w1 + b1
    dw1 = (-torch.sigmoid(-sr) * real).mean() + (torch.sigmoid(sf) * xf).mean()
    db1 = (-torch.sigmoid(-sr)).mean() + torch.sigmoid(sf).mean()
    w1_next, b1_next = w1 - eta * dw1, b1 - eta * db1
    want = torch.autograd.grad(torch.nn.functional.softplus(-(xf * w1_next + b1_next)).mean(), [w, b],
                               retain_graph=True)
    for a, e in zip(got, want):
        torch.testing.assert_close(a, e, rtol=1e-5, atol=1e-7)
    # the discriminator's reaction is part of it: holding the stepped discriminator fixed gives another gradient
    held = torch.autograd.grad(torch.nn.functional.softplus(-(xf * w1_next.detach() + b1_next.detach())).mean(),
                               [w, b])
    assert all((a - h).abs().max() > 1e-3 for a, h in zip(got, held))


def test_more_unrolled_steps_look_further_ahead():
    g = torch.Generator().manual_seed(0)
    real, z = (4.0 + 1.25 * torch.randn(16, 1, generator=g)).view(-1, 1, 1, 1), torch.randn(16, 1, generator=g)
    grads = []
    for steps in (1, 2, 5):
        v = affine_toy(steps)
        fake = v.sample(z)
        loss = v.g_loss(v.d_logits_at(v.lookahead(real, fake), {}, fake))
        grads.append(torch.cat([t.flatten() for t in torch.autograd.grad(loss, list(v.nets["generator"].parameters()))]))
    assert (grads[0] - grads[1]).abs().max() > 1e-4 and (grads[1] - grads[2]).abs().max() > 1e-4


def test_an_unrolled_adam_step_has_finite_gradients_where_a_weight_has_seen_only_zero_gradients():
    p = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    optimizer = torch.optim.Adam([p], lr=0.1)
    scale = torch.tensor(1.0, requires_grad=True)
    grads = {"p": scale * torch.tensor([0.0, 0.5])}  # the first entry's gradient is exactly 0
    state = {"p": {"step": 0.0, "exp_avg": torch.zeros(2), "exp_avg_sq": torch.zeros(2)}}
    out = optimizer_step(optimizer, {"p": p}, grads, state)
    (d,) = torch.autograd.grad(out["p"].sum(), scale)
    assert torch.isfinite(d) and out["p"][0].item() == 1.0


def test_an_optimizer_it_cannot_unroll_is_refused():
    p = torch.nn.Parameter(torch.zeros(2))
    with pytest.raises(TypeError, match="momentum"):
        optimizer_step(torch.optim.SGD([p], lr=0.1, momentum=0.9), {"p": p}, {"p": p}, {})
    with pytest.raises(TypeError, match="RMSprop"):
        optimizer_step(torch.optim.RMSprop([p], lr=0.1), {"p": p}, {"p": p}, {})
