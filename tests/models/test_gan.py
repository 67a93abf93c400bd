"""GAN (Goodfellow et al., 2014) in its toy settings: the affine generator and logistic discriminator of the 1-D
toy of its Figure 1, and the plain ReLU MLP of the 2-D toys (arch toy); the options of its step (Goodfellow et al.,
2014; Salimans et al., 2016), each against the formula it follows."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from tiny_variants import TINY, build, build_labelled, random_images, short_config, weights
from tiny_variants import build_labelled as make

from ganlab.errors import ParamsError
from ganlab.models import registry
from ganlab.models.blocks import MinibatchDiscrimination
from ganlab.models.losses import d_loss_bce, feature_matching, g_loss_nonsaturating, g_loss_saturating
from ganlab.schema import from_dict
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


# --------------------------------------------------------------------------- the options of the step (GanOptions)


def plain_step(v, x: torch.Tensor) -> None:
    """GAN's step as it was before the options: what every option's default must still do, bit for bit."""
    fake = v.sample(v.noise(len(x)))
    v.update("discriminator", d_loss_bce(v.d_logits(x), v.d_logits(fake.detach())))
    v.update("generator", g_loss_nonsaturating(v.d_logits(fake)))


@pytest.mark.parametrize("name", ["gan", "dcgan"])
def test_default_options_step_exactly_as_the_plain_gan_step(name):
    x = random_images(8)
    ours, plain = build(name, **TINY[name]), build(name, **TINY[name])
    assert ours.config == registry.get(name).Config(**TINY[name], d_steps=1)  # k = 1 is the default
    for step in range(2):
        torch.manual_seed(step)
        ours.step(x, None, step)
        torch.manual_seed(step)
        plain_step(plain, x)
    a, b = weights(ours), weights(plain)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not ours.history and "history" not in ours.state_dict()  # no state of options that are off


def test_saturating_loss_vanishes_where_the_discriminator_rejects_the_fakes():
    """Goodfellow et al. (2014), section 3: log(1 - D(G(z))) saturates when D rejects the fakes confidently;
    -log D(G(z)) then still gives a gradient of about -1 per sample."""
    logits = torch.tensor([-30.0, -20.0, -12.0], dtype=torch.float64)
    grads = {}
    for loss in (g_loss_saturating, g_loss_nonsaturating):
        l = logits.clone().requires_grad_(True)
        loss(l).backward()
        grads[loss] = l.grad * len(l)  # per sample: the losses are means over the batch
    d_fake = torch.sigmoid(logits)
    assert torch.allclose(grads[g_loss_saturating], -d_fake)  # d/dl log(1 - sigmoid(l)) = -sigmoid(l)
    assert torch.allclose(grads[g_loss_nonsaturating], -(1 - d_fake))  # d/dl -log sigmoid(l) = -(1 - sigmoid(l))
    assert grads[g_loss_saturating].abs().max() < 1e-5
    assert torch.allclose(grads[g_loss_nonsaturating], torch.full_like(logits, -1.0), atol=1e-5)
    assert g_loss_saturating(logits).item() == pytest.approx(torch.log1p(-d_fake).mean().item())
    v = build("gan", **TINY["gan"], g_loss="saturating")
    assert torch.equal(v.g_loss(logits), g_loss_saturating(logits))  # the option picks the loss


def test_d_steps_takes_k_discriminator_steps_each_on_a_fresh_real_batch():
    k = 3
    v = build("gan", **TINY["gan"], d_steps=k)
    assert [v.real_batches_per_step(s) for s in range(3)] == [k] * 3
    assert [v.batches_before(s) for s in range(4)] == [0, k, 2 * k, 3 * k]  # where the trainer resumes
    x = random_images(8 * k)  # what the trainer hands over: k batches one after the other
    seen = []
    d_logits = v.d_logits
    v.d_logits = lambda images: (seen.append(images), d_logits(images))[1]
    v.step(x, None, 0)
    reals = seen[0:2 * k:2]  # each discriminator step scores a real batch, then a fake one; the generator last
    assert len(seen) == 2 * k + 1
    assert all(torch.equal(real, x[8 * i:8 * (i + 1)]) for i, real in enumerate(reals))
    steps = {role: {int(s["step"]) for s in opt.state.values()} for role, opt in v.optimizers.items()}
    assert steps == {"discriminator": {k}, "generator": {1}}


def test_d_steps_reads_k_batches_a_step_through_the_trainer(tmp_path):
    v = build("gan", **TINY["gan"], d_steps=2)
    sizes = []
    step = v.step
    v.step = lambda x, y, s: (sizes.append(len(x)), step(x, y, s))[1]
    Trainer(v, random_images(64), None, short_config(steps=3), tmp_path).fit(progress=False)
    assert sizes == [16, 16, 16]  # batch_size 8, two real batches for each generator step


def test_one_sided_label_smoothing_is_the_formula():
    """Salimans et al. (2016), section 3.4: real targets alpha, fake targets 0."""
    alpha, real, fake = 0.9, [2.0, -1.0], [0.5, -3.0]
    v = build("gan", **TINY["gan"], real_label=alpha)

    def log_d(logit: float) -> float:
        return math.log(1 / (1 + math.exp(-logit)))

    expected = (-sum(alpha * log_d(r) + (1 - alpha) * log_d(-r) for r in real) / 2  # log(1 - D) = log D(-logit)
                - sum(log_d(-f) for f in fake) / 2)
    assert v.d_loss(torch.tensor(real), torch.tensor(fake)).item() == pytest.approx(expected, rel=1e-6)
    plain = build("gan", **TINY["gan"])
    assert plain.d_loss(torch.tensor(real), torch.tensor(fake)).item() == pytest.approx(
        -sum(map(log_d, real)) / 2 - sum(log_d(-f) for f in fake) / 2, rel=1e-6)


def test_feature_matching_loss_is_the_squared_distance_of_the_feature_means():
    real, fake = torch.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([[0.0, 0.0], [2.0, 2.0], [1.0, 1.0]])
    assert feature_matching(real, fake).item() == 1.0**2 + 2.0**2  # means (2, 3) and (1, 1)


@pytest.mark.parametrize("name, width", [("gan", 32), ("dcgan", 8 * 2 * 7 * 7)])
def test_feature_matching_matches_the_discriminators_last_hidden_features(name, width):
    v = build(name, **TINY[name], feature_matching=True)
    x, z = random_images(6), v.noise(6)
    v.nets.eval()  # no dropout: the same features on every call
    with torch.no_grad():
        logits, features = v.d_logits_and_features(x)
        assert features.shape == (6, width)  # MLP: the last hidden layer; DCGAN: the last feature map, flat
        assert torch.equal(logits, v.d_logits(x))
        fake = v.sample(z)
        expected = (features.mean(0) - v.d_logits_and_features(fake)[1].mean(0)).pow(2).sum()
        assert v.generator_loss(x, fake).item() == pytest.approx(expected.item(), rel=1e-6)
    v.nets.train()
    assert math.isfinite(v.step(x, None, 0)["loss_g"])


@pytest.mark.parametrize("name", ["gan", "dcgan"])
def test_minibatch_discrimination_sits_before_the_discriminators_last_layer(name):
    v = build(name, **TINY[name], minibatch_kernels=10, minibatch_kernel_dim=3)
    layers = [m for m in v.nets["discriminator"].modules() if isinstance(m, MinibatchDiscrimination)]
    assert len(layers) == 1 and layers[0].T.shape[1] == 10 * 3
    x = random_images(6)
    logits, features = v.d_logits_and_features(x)
    assert logits.shape == (6, 1) and features.shape[1] == layers[0].T.shape[0]
    assert math.isfinite(v.step(x, None, 0)["loss_d"])


def test_historical_averaging_keeps_the_running_mean_and_its_penalty():
    """Salimans et al. (2016), section 3.3: w ||theta - (1/t) sum_{i<=t} theta[i]||^2, on the toy's two parameters."""
    v = build_labelled("gan", shape=(1, 1, 1), n_classes=0, arch="affine", z_dim=1, historical_averaging=0.5)
    g = v.nets["generator"]
    zero = torch.zeros(())
    for t, (theta, mean, penalty) in enumerate([((1.0, 2.0), (1.0, 2.0), 0.0),   # t = 1: the mean is theta itself
                                                ((3.0, 4.0), (2.0, 3.0), 1.0),   # 0.5 * (1^2 + 1^2)
                                                ((5.0, 0.0), (3.0, 2.0), 4.0)],  # 0.5 * (2^2 + 2^2)
                                               start=1):
        with torch.no_grad():
            g.weight.fill_(theta[0])
            g.bias.fill_(theta[1])
        loss = v.with_history("generator", zero)
        assert loss.item() == pytest.approx(penalty)
        count, running = v.history["generator"]
        assert count == t and [m.item() for m in running] == pytest.approx(list(mean))
    loss.backward()  # the penalty's gradient pulls theta to the mean: 2 * 0.5 * (theta - mean)
    assert (g.weight.grad.item(), g.bias.grad.item()) == pytest.approx((2.0, -2.0))
    assert "discriminator" not in v.history  # each player has its own


@pytest.mark.parametrize("name", ["gan", "dcgan"])
def test_virtual_batch_norm_generator_samples_do_not_depend_on_the_batch(name):
    v = build(name, **TINY[name], vbn_reference=5)
    assert v.nets["generator"].reference.shape == (5, v.config.z_dim)
    assert not any(isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)) for m in v.nets["generator"].modules())
    z = v.noise(4)
    with torch.no_grad():
        assert torch.allclose(v.sample(z)[:1], v.sample(z[:1]), atol=1e-6)  # in training mode, as batch norm is not
    plain = build(name, **TINY[name])
    with torch.no_grad():
        assert not torch.allclose(plain.sample(z)[:1], plain.sample(z[:2])[:1], atol=1e-4)
    reference = v.nets["generator"].reference.clone()
    v.step(random_images(4), None, 0)
    assert torch.equal(v.nets["generator"].reference, reference)  # fixed for the run


ALL_ON = {"d_steps": 2, "feature_matching": True, "minibatch_kernels": 4, "minibatch_kernel_dim": 3,
          "historical_averaging": 0.01, "real_label": 0.9, "vbn_reference": 4}
SET = {**ALL_ON, "g_loss": "saturating"}  # every option away from its default


@pytest.mark.parametrize("name", ["gan", "dcgan"])
def test_options_resume_ends_with_the_weights_of_an_uninterrupted_run(name, tmp_path):
    """The running means of historical averaging and the reference codes of VBN travel in the checkpoint."""
    x = random_images(48)
    straight = Trainer(build(name, **TINY[name], **ALL_ON), x, None, short_config(steps=4), tmp_path / "a")
    straight.fit(progress=False)
    Trainer(build(name, **TINY[name], **ALL_ON), x, None, short_config(steps=2, checkpoint_every=2),
            tmp_path / "b").fit(progress=False)
    second = Trainer(build(name, seed=7, **TINY[name], **ALL_ON), x, None, short_config(steps=4), tmp_path / "b")
    second.fit(progress=False)  # seed 7: other initial weights and reference codes, all replaced by the checkpoint
    a, b = weights(straight.variant), weights(second.variant)
    assert all(torch.equal(a[k], b[k]) for k in a)
    for role in ("generator", "discriminator"):
        (ta, ma), (tb, mb) = straight.variant.history[role], second.variant.history[role]
        assert ta == tb == (8 if role == "discriminator" else 4) and all(map(torch.equal, ma, mb))


REFUSED = {  # variant -> options its config refuses (each set alone)
    "cgan": list(ALL_ON) + ["g_loss"], "acgan": list(ALL_ON) + ["g_loss"], "infogan": list(ALL_ON) + ["g_loss"],
    "wgan": list(ALL_ON) + ["g_loss"], "wgan_gp": list(ALL_ON) + ["g_loss"],
    "lsgan": ["g_loss", "real_label"], "sngan": ["g_loss", "real_label", "minibatch_kernels", "minibatch_kernel_dim"],
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_variant_refuses_the_options_it_does_not_honour_naming_the_key(name):
    cls = registry.get(name)
    for key in REFUSED[name]:
        with pytest.raises(ParamsError, match=rf"models\.a\.model: {key} = .* is not available here"):
            from_dict(cls.Config, {key: SET[key]}, "models.a.model")
    taken = {key: SET[key] for key in set(ALL_ON) - set(REFUSED[name])}  # the rest it takes, all at once
    assert from_dict(cls.Config, taken, "models.a.model") == cls.Config(**taken)


def test_options_that_would_be_ignored_are_refused():
    with pytest.raises(ParamsError, match="minibatch_kernels = 4 .* arch = 'affine'"):
        registry.get("gan").Config(arch="affine", z_dim=1, minibatch_kernels=4)
    for key in ("feature_matching", "vbn_reference"):
        with pytest.raises(ParamsError, match=f"{key} = "):
            registry.get("gan").Config(arch="affine", z_dim=1, **{key: SET[key]})
    registry.get("gan").Config(arch="affine", z_dim=1, d_steps=2, g_loss="saturating", real_label=0.9,
                               historical_averaging=1.0)  # these the toy's step takes
    with pytest.raises(ParamsError, match="g_loss = 'saturating' .* feature matching replaces"):
        registry.get("dcgan").Config(feature_matching=True, g_loss="saturating")
    with pytest.raises(ParamsError, match="minibatch_kernel_dim = 3 is read only with minibatch discrimination"):
        registry.get("dcgan").Config(minibatch_kernel_dim=3)


def test_exported_generator_carries_the_reference_batch(tmp_path):
    from ganlab.runs import RunDir, load_generator

    t = Trainer(build("dcgan", **TINY["dcgan"], vbn_reference=4), random_images(16), None, short_config(steps=2),
                tmp_path)
    t.fit(progress=False)
    loaded = load_generator(RunDir(tmp_path).generator)
    assert torch.equal(loaded.nets["generator"].reference, t.variant.nets["generator"].reference)
    z = t.variant.noise(3)
    with torch.no_grad():  # virtual batch norm keeps no running statistics: train and eval mode agree
        assert torch.equal(t.variant.sample(z), loaded.sample(z))
        loaded.nets.eval()
        assert torch.allclose(t.variant.sample(z), loaded.sample(z), atol=1e-6)


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
