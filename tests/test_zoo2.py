"""The mechanisms of Model zoo II's variants (sgan, ebgan, began, sagan, bigan, lapgan), each as its paper states it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ganlab.models import registry
from ganlab.models.base import DataSpec
from ganlab.runs import RunDir, load_generator
from ganlab.train.trainer import TrainConfig, Trainer

SHAPE = (1, 28, 28)


def make(name: str, classes: int = 0, seed: int = 0, **config):
    cls = registry.get(name)
    torch.manual_seed(seed)
    return cls(cls.Config(**config), DataSpec(SHAPE, classes), torch.device("cpu"))


def images(n: int, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, *SHAPE, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def config(**kw) -> TrainConfig:
    return TrainConfig(**{"steps": 3, "batch_size": 8, "checkpoint_every": 3, "sample_every": 3, "log_every": 1,
                          "n_samples": 20, **kw})


# --------------------------------------------------------------------------- sgan


def test_sgan_fake_class_losses_are_the_n_plus_1_softmax():
    from ganlab.models.sgan import fake_logit_loss

    logits = torch.randn(6, 11)
    p = logits.softmax(1)
    assert torch.allclose(fake_logit_loss(logits, fake=True), -p[:, -1].log().mean(), atol=1e-6)
    assert torch.allclose(fake_logit_loss(logits, fake=False), -(1 - p[:, -1]).log().mean(), atol=1e-6)


def test_sgan_keeps_labels_per_class_chosen_by_seed_and_never_reads_the_batch_labels():
    x, y = images(40), torch.arange(40) % 4
    v = make("sgan", 4, width=8, labels_per_class=3, labelled_batch=6)
    v.prepare(x, y, seed=0)
    assert torch.bincount(v.labelled_y, minlength=4).tolist() == [3, 3, 3, 3]
    for k in range(len(v.labelled_y)):  # each kept image carries its own label
        match = (x == v.labelled_x[k]).flatten(1).all(1)
        assert y[match][0] == v.labelled_y[k]
    same = make("sgan", 4, width=8, labels_per_class=3)
    same.prepare(x, y, seed=0)
    other = make("sgan", 4, width=8, labels_per_class=3)
    other.prepare(x, y, seed=1)
    assert torch.equal(same.labelled_x, v.labelled_x) and not torch.equal(other.labelled_x, v.labelled_x)
    # the batch's labels are not used: the same step with scrambled labels gives the same weights
    runs = []
    for labels in (y[:8], torch.zeros(8, dtype=torch.long)):
        w = make("sgan", 4, width=8, labels_per_class=3, labelled_batch=6)
        w.prepare(x, y, seed=0)
        torch.manual_seed(5)
        w.step(x[:8], labels, 0)
        runs.append({k: t.clone() for k, t in w.nets.state_dict().items()})
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])


def test_sgan_needs_enough_labelled_images_per_class():
    from ganlab.errors import ParamsError

    v = make("sgan", 3, width=8, labels_per_class=5)
    with pytest.raises(ParamsError, match="labels_per_class = 5: class 2 has only 2"):
        v.prepare(images(12), torch.tensor([0] * 5 + [1] * 5 + [2] * 2), seed=0)


def test_sgan_reports_its_and_the_baselines_test_accuracy_through_the_trainer(tmp_path):
    """Two classes told apart by brightness: both classifiers learn it; the metrics reach dvclive."""
    g = torch.Generator().manual_seed(0)
    y = torch.arange(64) % 2
    x = (torch.rand(64, *SHAPE, generator=g) * 0.5 - 0.9 + y.view(-1, 1, 1, 1) * 1.3).clamp(-1, 1)
    test_y = torch.arange(40) % 2
    test_x = (torch.rand(40, *SHAPE, generator=g) * 0.5 - 0.9 + test_y.view(-1, 1, 1, 1) * 1.3).clamp(-1, 1)
    v = make("sgan", 2, width=8, labels_per_class=4, labelled_batch=8)
    t = Trainer(v, x, y, config(steps=30, checkpoint_every=30, sample_every=30, log_every=10), tmp_path,
                test=(test_x, test_y))
    summary = t.fit(progress=False)
    assert summary["test"]["accuracy"] > 0.9 and summary["test"]["baseline_accuracy"] > 0.9
    assert summary["test"]["n_labelled"] == 8 and summary["test"]["n_test"] == 40
    metrics = json.loads((tmp_path / "dvclive" / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] == pytest.approx(summary["test"]["accuracy"])


def test_train_run_scores_sgan_on_the_test_split(tmp_path):
    """ganlab.train.run loads the test split for a variant that evaluates itself."""
    from ganlab.data.datasets import write_content
    from ganlab.data.formats import ImageData, ImageSplit
    from ganlab.params import Params
    from ganlab.schema import from_dict
    from ganlab.train.run import train_run

    rng = np.random.default_rng(0)
    splits = {s: ImageSplit(rng.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8), np.arange(n) % 3)
              for s, n in (("train", 30), ("test", 9))}
    root = tmp_path / "data" / "mnist"
    root.mkdir(parents=True)
    info = write_content(ImageData(splits, ["a", "b", "c"]), root)
    (root / "dataset.json").write_text(json.dumps({"name": "mnist", **info}))
    params = from_dict(Params, {"models": {"s": {"variant": "sgan", "model": {"width": 4, "labels_per_class": 2},
                                                 "train": {"steps": 2, "batch_size": 6, "dvclive": False}}}}, "")
    summary = train_run(params.models, "s", tmp_path / "data", progress=False)
    assert summary["test"]["n_test"] == 9 and summary["test"]["n_labelled"] == 6
    assert 0 <= summary["test"]["accuracy"] <= 1


# --------------------------------------------------------------------------- ebgan


def test_ebgan_pulling_away_term_is_the_mean_squared_cosine_between_codes():
    from ganlab.models.ebgan import pulling_away

    s = torch.randn(5, 3, 2, 2)
    flat = F.normalize(s.flatten(1), dim=1)
    expected = sum((flat[i] @ flat[j]) ** 2 for i in range(5) for j in range(5) if i != j) / 20
    assert torch.allclose(pulling_away(s), expected, atol=1e-6)
    assert pulling_away(torch.eye(4)).item() == pytest.approx(0.0)  # orthogonal codes: no pull
    assert pulling_away(torch.ones(3, 4)).item() == pytest.approx(1.0)  # identical codes: the most


def test_ebgan_energy_is_reconstruction_error_and_the_margin_caps_the_fake_term():
    from ganlab.models.ebgan import energy

    v = make("ebgan", width=8, margin=0.5)
    d = v.nets["discriminator"]
    x = images(4)
    e, code = energy(d, x)
    assert torch.allclose(e, (d(x) - x).pow(2).flatten(1).mean(1))
    assert code.shape[0] == 4 and code.dim() == 4
    losses = v.step(x, None, 0)
    assert {"energy_real", "energy_fake", "pulling_away"} <= set(losses)
    expected = losses["energy_real"] + max(0.0, 0.5 - losses["energy_fake"])
    assert losses["loss_d"] == pytest.approx(expected, rel=1e-5)
    # with the margin at 0 the generated images' energy no longer enters D's loss
    v0 = make("ebgan", width=8, margin=0.0)
    losses0 = v0.step(x, None, 0)
    assert losses0["loss_d"] == pytest.approx(losses0["energy_real"], rel=1e-6)


# --------------------------------------------------------------------------- began


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


# --------------------------------------------------------------------------- sagan


def test_sagan_attention_starts_as_identity_and_mixes_every_position():
    from ganlab.models.sagan import SelfAttention

    block = SelfAttention(16)
    x = torch.randn(2, 16, 5, 5)
    assert torch.equal(block(x), x)  # gamma = 0: the block starts as the identity
    beta = block.last_attention
    assert beta.shape == (2, 25, 25) and torch.allclose(beta.sum(1), torch.ones(2, 25))
    with torch.no_grad():
        block.gamma.fill_(1.0)
    x2 = x.clone()
    x2[:, :, 0, 0] += 5.0  # one corner changes: with attention on, the opposite corner's output moves
    assert not torch.allclose(block(x2)[:, :, 4, 4], block(x)[:, :, 4, 4])


def test_sagan_spectral_norm_in_both_networks_hinge_loss_and_ttur():
    from ganlab.models.sagan import SelfAttention

    v = make("sagan", width=8, z_dim=16)
    for role in ("generator", "discriminator"):
        net = v.nets[role]
        convs = [m for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
        assert convs and all(torch.nn.utils.parametrize.is_parametrized(m, "weight") for m in convs), role
        assert any(isinstance(m, SelfAttention) for m in net.modules()), role
    lrs = {role: o.param_groups[0]["lr"] for role, o in v.optimizers.items()}
    assert lrs == {"generator": 1e-4, "discriminator": 4e-4}
    assert v.optimizers["generator"].param_groups[0]["betas"] == (0.0, 0.9)
    real, fake = torch.tensor([[2.0], [0.5]]), torch.tensor([[-2.0], [0.0]])
    assert v.d_loss(real, fake).item() == pytest.approx((0 + 0.5) / 2 + (0 + 1) / 2)
    assert {"gamma_g", "gamma_d"} <= set(v.step(images(8), None, 0))


# --------------------------------------------------------------------------- bigan


def test_bigan_discriminator_judges_pairs_and_trains_encoder_with_generator():
    v = make("bigan", width=8, z_dim=8, joint=16)
    x = images(8)
    z = v.noise(8)
    d = v.nets["discriminator"]
    d.eval()
    out = d(x, z)
    assert out.shape == (8, 1)
    assert not torch.allclose(out, d(x, torch.zeros_like(z)))  # the z path matters
    d.train()
    enc_before = {k: p.clone() for k, p in v.nets["encoder"].state_dict().items()}
    v.step(x, None, 0)
    assert any(not torch.equal(enc_before[k], p) for k, p in v.nets["encoder"].state_dict().items())
    params_g = {id(p) for p in v.optimizers["generator"].param_groups[0]["params"]}
    assert {id(p) for p in v.nets["encoder"].parameters()} <= params_g  # G and E are one player
    assert v.encode(x).shape == (8, 8)
    assert [f.shape[1] for f in v.features(x)] == [8, 16]


def test_bigan_reconstruction_figure_and_exported_encoder(tmp_path):
    x = images(24)
    t = Trainer(make("bigan", width=8, z_dim=8, joint=16), x, None, config(), tmp_path)
    t.fit(progress=False)
    assert (tmp_path / "samples" / "reconstruction_step_0000003.png").exists()
    loaded = load_generator(RunDir(tmp_path).generator)
    t.variant.nets.eval()
    loaded.nets.eval()
    with torch.no_grad():
        assert torch.equal(loaded.encode(x), t.variant.encode(x))
        grid, nrow = t.variant.figures(t.fixed_real, None)["reconstruction"]
    assert nrow == 10 and grid.shape == (40, *SHAPE)
    assert torch.equal(grid[:10], t.fixed_real[:10])  # originals above their reconstructions


# --------------------------------------------------------------------------- lapgan


def test_lapgan_pyramid_rebuilds_the_image_exactly():
    from ganlab.models.lapgan import pyramid, up

    x = images(3)
    levels, residuals = pyramid(x, 3)
    assert [im.shape[-1] for im in levels] == [28, 14, 7]
    rebuilt = levels[-1]
    for k in reversed(range(2)):
        rebuilt = up(rebuilt) + residuals[k]
        assert torch.allclose(rebuilt, levels[k], atol=1e-6)


def test_lapgan_samples_run_the_chain_coarse_to_fine():
    v = make("lapgan", width=8, hidden=16, z_dim=8)
    z = v.noise(4)
    assert z.shape == (4, 8 + 14 * 14 + 28 * 28)
    v.nets.eval()
    chain = v.chain(z)
    assert [im.shape[-1] for im in chain] == [7, 14, 28]
    from ganlab.models.lapgan import up

    top, planes = v.split_noise(z)
    g = v.nets["generator"]
    assert torch.allclose(chain[1], up(chain[0]) + g[1](planes[1], up(chain[0])))
    assert torch.equal(v.sample(z), chain[-1].clamp(-1, 1))
    figs = v.figures(images(10), None)
    grid, nrow = figs["levels"]
    assert nrow == 3 and grid.shape == (30, *SHAPE)
    losses = v.step(images(8), None, 0)
    assert {f"loss_d_level{k}" for k in range(3)} <= set(losses)


def test_lapgan_refuses_levels_the_image_cannot_halve():
    from ganlab.errors import ParamsError

    with pytest.raises(ParamsError, match="levels = 4"):
        make("lapgan", levels=4)  # 28 -> 14 -> 7 -> 3.5
