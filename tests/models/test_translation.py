"""The translation variants' mechanisms: CycleGAN (Zhu et al., 2017) and DiscoGAN (Kim et al., 2017)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ganlab.errors import GanlabError, ParamsError
from ganlab.models import registry
from ganlab.models.base import DataSpec
from ganlab.models.cyclegan import ImageHistory, lsgan_d_loss, lsgan_g_loss, patch_discriminator
from ganlab.models.discogan import discogan_discriminator, discogan_encoder, discogan_generator
from ganlab.models.losses import d_loss_bce, g_loss_nonsaturating
from ganlab.runs import RunDir, load_generator
from ganlab.train.trainer import TrainConfig, Trainer

SHAPE = (1, 28, 28)
TINY = {"cyclegan": {"width": 4, "n_blocks": 1, "history": 3, "pool_size": 6},
        "discogan": {"width": 4, "pool_size": 6}}
VARIANTS = sorted(TINY)


def make(name: str, seed: int = 0, **config):
    cls = registry.get(name)
    torch.manual_seed(seed)
    return cls(cls.Config(**{**TINY[name], **config}), DataSpec(SHAPE, 2), torch.device("cpu"))


def batch(labels: list[int], seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(len(labels), *SHAPE, generator=g) * 2 - 1, torch.tensor(labels)


def weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items() if v.is_floating_point()}


def changed(before: dict[str, torch.Tensor], module: torch.nn.Module) -> bool:
    after = weights(module)
    return any(not torch.equal(before[k], after[k]) for k in before)


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


def test_one_optimizer_over_both_generators_and_one_over_both_discriminators_with_the_papers_adam():
    for name in VARIANTS:
        v = make(name)
        g = {id(p) for group in v.optimizers["generator"].param_groups for p in group["params"]}
        d = {id(p) for group in v.optimizers["discriminator"].param_groups for p in group["params"]}
        assert g == {id(p) for r in ("generator", "generator_ba") for p in v.nets[r].parameters()}
        assert d == {id(p) for r in ("discriminator_a", "discriminator_b") for p in v.nets[r].parameters()}
        assert v.optimizers["generator"].defaults["lr"] == 2e-4
        assert v.optimizers["generator"].defaults["betas"] == (0.5, 0.999)


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


# --------------------------------------------------------------------------- batches and domains


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize("domain", [0, 1])
def test_a_batch_of_one_domain_still_trains_all_four_networks(name, domain):
    v = make(name)
    before = {role: weights(v.nets[role]) for role in ("generator", "generator_ba", "discriminator_a", "discriminator_b")}
    x, y = batch([domain] * 4)
    losses = v.step(x, y, 0)
    assert all(torch.isfinite(torch.tensor(val)) for val in losses.values())
    there, missing = ("ab", "ba") if domain == 0 else ("ba", "ab")
    assert f"loss_g_{there}" in losses and f"loss_g_{missing}" not in losses
    for role, w in before.items():  # the round trip reaches both generators; D_A and D_B get one part each
        assert changed(w, v.nets[role]), f"{name}: {role} did not change on a batch of domain {domain} only"


@pytest.mark.parametrize("name", VARIANTS)
def test_one_image_per_domain_is_enough(name):
    v = make(name)
    x, y = batch([1, 0])
    assert {"loss_g_ab", "loss_g_ba", "loss_d_a", "loss_d_b"} <= set(v.step(x, y, 0))


@pytest.mark.parametrize("name", VARIANTS)
def test_translators_need_two_domains_and_their_labels(name):
    cls = registry.get(name)
    with pytest.raises(ParamsError, match=r"two domains.*not 10 classes.*'domains'"):
        cls(cls.Config(**TINY[name]), DataSpec(SHAPE, 10), torch.device("cpu"))
    v = make(name)
    x, _ = batch([0, 1])
    with pytest.raises(GanlabError, match="domain label"):
        v.step(x, None, 0)
    with pytest.raises(GanlabError, match="no domain-A image"):
        v.prepare(x, torch.tensor([1, 1]), seed=0)


# --------------------------------------------------------------------------- figures


@pytest.mark.parametrize("name", VARIANTS)
def test_figures_show_real_translated_and_round_trip_in_bands_of_three_rows(name):
    v = make(name)
    v.nets.eval()
    x, y = batch([0] * 16 + [1] * 3)
    grids = v.figures(x, y)
    assert set(grids) == {"cycle_ab", "cycle_ba"}
    images, cols = grids["cycle_ab"]
    assert cols == 8 and images.shape == (2 * 3 * 8, *SHAPE)  # 16 A images: two bands of 3 rows of 8
    a = x[:16]
    g_ab, g_ba = v.nets["generator"], v.nets["generator_ba"]
    with torch.no_grad():
        fake = g_ab(a)
        back = g_ba(fake)
    for band in range(2):
        rows = images[band * 24 : (band + 1) * 24].view(3, 8, *SHAPE)
        part = slice(band * 8, (band + 1) * 8)
        assert torch.equal(rows[0], a[part])
        assert torch.allclose(rows[1], fake[part], atol=1e-6)
        assert torch.allclose(rows[2], back[part], atol=1e-6)
    images, cols = grids["cycle_ba"]
    b = x[16:]
    assert cols == 3 and images.shape == (9, *SHAPE)
    with torch.no_grad():
        assert torch.allclose(images[3:6], g_ba(b), atol=1e-6) and torch.equal(images[:3], b)
    only_a = v.figures(x[:5], y[:5])
    assert set(only_a) == {"cycle_ab"} and only_a["cycle_ab"][1] == 5  # no B image: no B -> A figure


# --------------------------------------------------------------------------- samples and the exported generator


def two_domains(n: int = 24) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(7)
    y = torch.arange(n) % 2
    x = torch.rand(n, *SHAPE, generator=g) * 2 - 1
    x[y == 0] = x[y == 0].abs()  # domain A: non-negative pixels, to recognise its images
    x[y == 1] = -x[y == 1].abs()
    return x, y


@pytest.mark.parametrize("name", VARIANTS)
def test_pool_holds_domain_a_training_images_chosen_by_the_seed(name):
    x, y = two_domains()
    v = make(name)
    v.prepare(x, y, seed=3)
    pool = v.nets["pool"].images
    a = x[y == 0]
    assert all(any(torch.equal(p, img) for img in a) for p in pool)  # 6 of the 12 domain-A images
    assert len({tuple(p.flatten().tolist()) for p in pool}) == 6
    w = make(name)
    w.prepare(x, y, seed=3)
    assert torch.equal(w.nets["pool"].images, pool)
    w.prepare(x, y, seed=4)
    assert not torch.equal(w.nets["pool"].images, pool)
    small = make(name, pool_size=20)  # more pool than domain-A images: they repeat
    small.prepare(x, y, seed=0)
    assert len({tuple(p.flatten().tolist()) for p in small.nets["pool"].images}) == 12


@pytest.mark.parametrize("name", VARIANTS)
def test_noise_picks_pool_images_and_sample_translates_them(name):
    x, y = two_domains()
    v = make(name)
    v.prepare(x, y, seed=0)
    v.nets.eval()
    z = v.noise(6, torch.Generator().manual_seed(0))
    assert z.dtype == torch.long and sorted(z.tolist()) == list(range(6))  # distinct while n <= pool_size
    assert len(v.noise(15)) == 15
    with torch.no_grad():
        s = v.sample(z)
        assert s.shape == (6, *SHAPE) and s.min() >= -1 and s.max() <= 1
        assert torch.equal(s, v.nets["generator"](v.nets["pool"].images[z]))
        assert torch.equal(v.sample(x[:3]), v.nets["generator"](x[:3]))  # or any domain-A images
    with pytest.raises(ValueError, match="pool indices"):
        v.sample(torch.zeros(2, 3, 28, 28))


@pytest.mark.parametrize("name", VARIANTS)
def test_exported_generator_carries_the_pool_and_reproduces_the_trained_samples(name, tmp_path):
    x, y = two_domains()
    cfg = TrainConfig(steps=2, batch_size=8, checkpoint_every=2, sample_every=2, log_every=1, n_samples=4,
                      dvclive=False)
    t = Trainer(make(name), x, y, cfg, tmp_path)
    t.fit(progress=False)
    assert (tmp_path / "samples" / "cycle_ab_step_0000002.png").exists()
    assert (tmp_path / "samples" / "cycle_ba_step_0000002.png").exists()
    state = torch.load(RunDir(tmp_path).generator, weights_only=True)
    assert set(state["roles"]) == {"generator", "generator_ba", "pool"}  # no discriminator, no history
    loaded = load_generator(RunDir(tmp_path).generator)  # rebuilt without prepare: the pool comes from the file
    assert torch.equal(loaded.nets["pool"].images, t.variant.nets["pool"].images)
    assert (loaded.nets["pool"].images >= 0).all()  # domain A's images only
    t.variant.nets.eval()
    loaded.nets.eval()
    with torch.no_grad():
        assert torch.equal(t.variant.sample(t.fixed_noise), loaded.sample(t.fixed_noise))
        z = loaded.noise(6, torch.Generator().manual_seed(1))
        assert torch.equal(t.variant.sample(z), loaded.sample(z))


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

