"""ProGAN's mechanisms: the growth schedule, fade-in, equalized lr, pixel norm, minibatch std, drift, export."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ganlab.models import registry
from ganlab.models.base import DataSpec
from ganlab.models.progan import EqualizedConv2d, EqualizedLinear, MinibatchStdDev, PixelNorm, growth_sides
from ganlab.runs import RunDir, load_generator
from ganlab.train.trainer import TrainConfig, Trainer

# 4 steps: 7x7, fade to 14, 14x14, fade to 28
CONTRACT = {"width": 8, "z_dim": 16, "phase_steps": 1}  # the contract test's settings (read by tests/tiny_variants.py)


SHAPE = (1, 28, 28)  # the contract tests' data: their conv shapes are then already built (oneDNN compiles each once)


def make(shape=SHAPE, seed: int = 0, **kw):
    cls = registry.get("progan")
    torch.manual_seed(seed)
    return cls(cls.Config(**{"width": 8, "z_dim": 16, "phase_steps": 1, **kw}), DataSpec(shape, 0), torch.device("cpu"))


def images(n: int = 8, shape=SHAPE, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, *shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_resolutions_double_from_the_start_side_to_the_data_side():
    assert growth_sides(32, 4) == [4, 8, 16, 32]
    assert growth_sides(28, 4) == [7, 14, 28]
    assert growth_sides(64, 4) == [4, 8, 16, 32, 64]
    assert growth_sides(32, 8) == [8, 16, 32]
    assert make((1, 28, 28)).sides == [7, 14, 28]


def test_schedule_gives_resolution_and_alpha_per_step():
    v = make((3, 32, 32), phase_steps=3)
    got = [(v.sides[level], round(alpha, 4)) for level, alpha in map(v.growth, range(22))]
    stable = [(4, 1.0)] * 3
    fade8, stable8 = [(8, 0.25), (8, 0.5), (8, 0.75)], [(8, 1.0)] * 3
    fade16, stable16 = [(16, 0.25), (16, 0.5), (16, 0.75)], [(16, 1.0)] * 3
    fade32 = [(32, 0.25), (32, 0.5), (32, 0.75)]
    assert got == stable + fade8 + stable8 + fade16 + stable16 + fade32 + [(32, 1.0)] * 4
    assert v.growth(10**7) == (3, 1.0)  # the data's resolution, stable, for ever after


def test_generator_fade_in_blends_the_upsampled_old_output_with_the_new_block():
    v = make()
    g = v.nets["generator"]
    z = v.noise(8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        old = F.interpolate(g(z, 1, 1.0), scale_factor=2, mode="nearest")  # 14x14 -> 28x28
        new = g(z, 2, 1.0)
        assert not torch.allclose(old, new)
        for alpha in (1e-6, 0.25, 0.5, 0.9):
            assert torch.allclose(g(z, 2, alpha), (1 - alpha) * old + alpha * new, atol=1e-5)
        assert torch.allclose(g(z, 2, 1e-6), old, atol=1e-5)  # continuous at both ends of the fade
        assert torch.allclose(g(z, 2, 1 - 1e-6), new, atol=1e-5)


def test_critic_fade_in_starts_as_the_smaller_critic_and_ends_as_the_grown_one():
    v = make()
    d = v.nets["discriminator"]
    x = images()
    with torch.no_grad():
        smaller = d(F.avg_pool2d(x, 2), 1, 1.0)
        grown = d(x, 2, 1.0)
        assert not torch.allclose(smaller, grown)
        assert torch.allclose(d(x, 2, 0.0), smaller, atol=1e-6)
        assert torch.allclose(d(x, 2, 1e-6), smaller, atol=1e-4)
        assert torch.allclose(d(x, 2, 1 - 1e-6), grown, atol=1e-4)
        mid = d(x, 2, 0.5)
        assert not torch.allclose(mid, smaller) and not torch.allclose(mid, grown)


def test_real_images_are_downsampled_and_faded_like_the_fakes():
    v = make()
    x = images()
    at14 = v.real_at(x, 1, 1.0)
    assert at14.shape == (8, 1, 14, 14)
    assert torch.allclose(at14, F.avg_pool2d(x, 2))
    blurred = F.interpolate(v.real_at(x, 0, 1.0), scale_factor=2, mode="nearest")  # 7x7 shown at 14x14
    for alpha in (0.0, 0.3, 0.7):
        assert torch.allclose(v.real_at(x, 1, alpha), (1 - alpha) * blurred + alpha * at14, atol=1e-6)
    assert torch.equal(v.real_at(x, 2, 1.0), x)  # the data's resolution


def test_equalized_learning_rate_scales_unit_weights_by_he_constant():
    torch.manual_seed(0)
    conv = EqualizedConv2d(64, 32, 3, padding=1)
    assert conv.weight.std().item() == pytest.approx(1.0, abs=0.03)  # stored weights are N(0, 1) ...
    assert conv.scale == pytest.approx(math.sqrt(2 / (64 * 9)))  # ... and scaled at run time
    x = torch.randn(2, 64, 8, 8)
    assert torch.allclose(conv(x), F.conv2d(x, conv.weight * conv.scale, conv.bias, padding=1), atol=1e-5)
    linear = EqualizedLinear(300, 200)
    assert linear.scale == pytest.approx(math.sqrt(2 / 300))
    for fan_in in (16, 1024):  # He's constant: the output's mean square is 2 whatever the fan-in
        layer = EqualizedLinear(fan_in, 2000)
        assert layer(torch.randn(64, fan_in)).pow(2).mean().item() == pytest.approx(2.0, rel=0.1)
    v = make()
    layers = [m for m in v.nets.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert not layers  # every weighted layer of both networks is equalized


def test_pixel_norm_gives_unit_mean_square_features_in_the_generator():
    x = torch.randn(4, 16, 5, 5) * 7 + 3
    out = PixelNorm()(x)
    assert torch.allclose(out.pow(2).mean(dim=1), torch.ones(4, 5, 5), atol=1e-4)
    v = make()
    g = v.nets["generator"]
    seen = []
    hooks = [m.register_forward_hook(lambda m, i, o: seen.append(o)) for m in g.modules() if isinstance(m, PixelNorm)]
    with torch.no_grad():
        g(v.noise(8), 2, 1.0)
    for h in hooks:
        h.remove()
    assert len(seen) == 1 + 2 + 2 * 2  # the latent, the first block's two layers, two per grown block
    for o in seen:
        assert torch.allclose(o.pow(2).mean(dim=1), torch.ones(()), atol=1e-3)


def test_minibatch_stddev_appends_the_batch_std_as_one_channel():
    x = torch.randn(6, 3, 4, 4) * torch.arange(1.0, 4.0).view(1, 3, 1, 1)
    out = MinibatchStdDev()(x)
    assert out.shape == (6, 4, 4, 4) and torch.equal(out[:, :3], x)
    want = x.std(dim=0, unbiased=False).mean()
    assert torch.allclose(out[:, 3], want.expand(6, 4, 4), atol=1e-5)
    same = MinibatchStdDev()(x[:1].expand(6, -1, -1, -1))
    assert same[:, 3].max().item() < 1e-3  # a batch of one repeated image: no variation
    final = make().nets["discriminator"].final
    assert isinstance(final[0], MinibatchStdDev) and final[1].weight.shape[1] == 8 + 1


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (3, 64, 64)])
def test_samples_have_the_data_size_at_every_phase(shape):
    v = make(shape)
    g = v.nets["generator"]
    z = v.noise(8)
    resolutions = []
    for step in range(2 * len(v.sides)):  # through every fade and stable phase
        level, alpha = v.growth(step)
        g.set_growth(level, alpha)  # as step() does (test_step_stores_the_growth_state)
        resolutions.append(v.sides[level])
        with torch.no_grad():
            s = v.sample(z)
        assert s.shape == (8, *shape) and s.min() >= -1 and s.max() <= 1
        f = shape[-1] // v.sides[level]  # nearest upsampling: f x f blocks of one value
        assert torch.equal(s, F.interpolate(s[..., ::f, ::f], scale_factor=f, mode="nearest"))
    assert resolutions[0] == v.sides[0] < resolutions[-1] == shape[-1]


def test_step_stores_the_growth_state_and_logs_it():
    v = make()
    g = v.nets["generator"]
    for step in range(5):
        losses = v.step(images(), None, step)
        level, alpha = v.growth(step)
        assert (int(g.level), float(g.alpha)) == (level, alpha)
        assert (losses["resolution"], losses["alpha"]) == (v.sides[level], alpha)
    assert [v.sides[v.growth(s)[0]] for s in range(5)] == [7, 14, 14, 28, 28]


def test_critic_loss_is_wgan_gp_plus_the_drift_term():
    v = make()
    assert (v.config.drift, v.config.gp_weight, v.config.lr) == (1e-3, 10.0, 1e-3)
    assert v.optimizers["discriminator"].defaults["betas"] == (0.0, 0.99)
    assert v.real_batches_per_step(0) == 1  # n_critic = 1
    real, fake = F.avg_pool2d(images(), 2), F.avg_pool2d(images(seed=2), 2)  # 14x14
    without = make(drift=0.0)  # the same weights
    torch.manual_seed(3)  # the same interpolates for the gradient penalty
    terms = v.critic_losses(real, fake, 1, 1.0)
    torch.manual_seed(3)
    plain = without.critic_losses(real, fake, 1, 1.0)
    real_scores = v.nets["discriminator"](real, 1, 1.0)
    assert terms["drift"].item() == pytest.approx(real_scores.pow(2).mean().item(), rel=1e-5)
    assert terms["drift"].item() > 0
    want = -terms["wasserstein"] + 10 * terms["gradient_penalty"] + 1e-3 * terms["drift"]
    assert terms["loss_d"].item() == pytest.approx(want.item(), rel=1e-6)
    assert plain["loss_d"].item() == pytest.approx(terms["loss_d"].item() - 1e-3 * terms["drift"].item(), rel=1e-6)
    assert plain["loss_d"].item() != terms["loss_d"].item()


def test_adam_restarts_at_every_phase_change():
    v = make(phase_steps=2)
    x = images()
    first = next(iter(v.nets["discriminator"].final.parameters()))  # trained at every resolution
    counts = []
    for step in range(5):
        v.step(x, None, step)
        counts.append(int(v.optimizers["discriminator"].state[first]["step"]))
    assert counts == [1, 2, 1, 2, 1]


def test_exported_generator_samples_at_the_resolution_training_reached(tmp_path):
    x = images(16)
    config = TrainConfig(steps=4, batch_size=8, checkpoint_every=2, sample_every=2, log_every=1, n_samples=4)
    t = Trainer(make(), x, None, config, tmp_path)
    summary = t.fit(progress=False)
    assert summary["resolution"] == 28 and summary["alpha"] == 0.5  # step 3: fading in 28x28
    loaded = load_generator(RunDir(tmp_path).generator)
    g = loaded.nets["generator"]
    assert int(g.level) == 2 and float(g.alpha) == 0.5
    t.variant.nets.eval()
    loaded.nets.eval()
    z = loaded.noise(8, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        trained = t.variant.sample(z)
        assert torch.equal(trained, loaded.sample(z))
        g.set_growth(0, 1.0)  # the same weights at the first resolution draw other images
        assert not torch.equal(trained, loaded.sample(z))
    grids = sorted(p.name for p in (tmp_path / "samples").iterdir())
    assert grids == ["real_vs_fake_step_0000002.png", "real_vs_fake_step_0000004.png",
                     "step_0000002.png", "step_0000004.png"]


def test_real_vs_fake_figure_shows_reals_as_the_critic_sees_them_above_samples():
    v = make()
    x = images(16)
    v.step(x[:8], None, 0)  # 7x7, stable
    with torch.no_grad():
        grid, nrow = v.figures(x, None)["real_vs_fake"]
    assert nrow == 8 and grid.shape == (32, 1, 28, 28)
    want = F.interpolate(F.avg_pool2d(x, 4), scale_factor=4, mode="nearest")
    assert torch.allclose(grid[:16], want, atol=1e-6)
    with torch.no_grad():
        assert torch.equal(grid[16:], v.sample(v.noise(16, generator=torch.Generator().manual_seed(1234))))
