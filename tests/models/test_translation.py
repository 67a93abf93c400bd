"""What the translation variants share (ganlab.models.translation), tested on CycleGAN (Zhu et al., 2017) and
DiscoGAN (Kim et al., 2017): two domains, one optimizer per player, the figures, the pool and the exported generator.

Each one's own mechanisms are in tests/models/test_cyclegan.py and tests/models/test_discogan.py.
"""

from __future__ import annotations

import pytest
import torch
from tiny_variants import TRANSLATION as TINY, build_translation as make, domain_batch as batch

from ganlab.errors import GanlabError, ParamsError
from ganlab.models import registry
from ganlab.models.base import DataSpec
from ganlab.runs import RunDir, load_generator
from ganlab.train.trainer import TrainConfig, Trainer

SHAPE = (1, 28, 28)
VARIANTS = sorted(TINY)


def weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items() if v.is_floating_point()}


def changed(before: dict[str, torch.Tensor], module: torch.nn.Module) -> bool:
    after = weights(module)
    return any(not torch.equal(before[k], after[k]) for k in before)


# --------------------------------------------------------------------------- optimizers


def test_one_optimizer_over_both_generators_and_one_over_both_discriminators_with_the_papers_adam():
    for name in VARIANTS:
        v = make(name)
        g = {id(p) for group in v.optimizers["generator"].param_groups for p in group["params"]}
        d = {id(p) for group in v.optimizers["discriminator"].param_groups for p in group["params"]}
        assert g == {id(p) for r in ("generator", "generator_ba") for p in v.nets[r].parameters()}
        assert d == {id(p) for r in ("discriminator_a", "discriminator_b") for p in v.nets[r].parameters()}
        assert v.optimizers["generator"].defaults["lr"] == 2e-4
        assert v.optimizers["generator"].defaults["betas"] == (0.5, 0.999)


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
