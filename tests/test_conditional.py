"""The mechanisms of the label-conditioned and code-conditioned variants (cgan, acgan, infogan) and the 1-D toy."""

from __future__ import annotations

import math

import pytest
import torch

from ganlab.models import registry
from ganlab.models.base import DataSpec
from ganlab.train.trainer import TrainConfig, Trainer

SHAPE = (1, 28, 28)


def make(name: str, shape=SHAPE, n_classes: int = 10, **kw):
    cls = registry.get(name)
    torch.manual_seed(0)
    return cls(cls.Config(**kw), DataSpec(shape, n_classes), torch.device("cpu"))


def test_cgan_feeds_the_one_hot_label_to_both_networks_with_the_papers_dropout():
    v = make("cgan", hidden=32)
    g, d = v.nets["generator"], v.nets["discriminator"]
    assert g[0].in_features == v.config.z_dim + 10 and d[0].in_features == 28 * 28 + 10
    assert [m.p for m in d.modules() if isinstance(m, torch.nn.Dropout)] == [0.5, 0.5]  # the paper's
    assert not [m for m in g.modules() if isinstance(m, torch.nn.Dropout)]  # off by default (see cgan.py)
    g_paper = make("cgan", hidden=32, g_dropout=0.5).nets["generator"]
    assert [m.p for m in g_paper.modules() if isinstance(m, torch.nn.Dropout)] == [0.5, 0.5]
    v.nets.eval()
    z = v.noise(1).repeat(10, 1)
    with torch.no_grad():
        images = v.sample(z, torch.arange(10))
    assert all(not torch.equal(images[0], images[k]) for k in range(1, 10))  # the label changes the image
    with torch.no_grad():  # and so does the discriminator's verdict on one image
        a = v.discriminate(images[:1], torch.tensor([0]))
        b = v.discriminate(images[:1], torch.tensor([1]))
    assert not torch.equal(a, b)


def test_conditional_grids_put_one_class_per_column():
    v = make("acgan", width=8)
    _, y = v.grid_inputs(100, torch.Generator().manual_seed(0))
    assert y.view(10, 10).tolist() == [list(range(10))] * 10


def test_acgan_discriminator_has_a_class_head_and_both_players_use_the_class_loss():
    v = make("acgan", width=8)
    x = torch.rand(8, *SHAPE) * 2 - 1
    src, cls = v.discriminate(x)
    assert src.shape == (8, 1) and cls.shape == (8, 10)
    # the class term is in both losses: with class_weight 0 they are the plain GAN losses
    y = torch.randint(0, 10, (8,))
    torch.manual_seed(1)
    with_class = make("acgan", width=8).step(x, y, 0)
    torch.manual_seed(1)
    without = make("acgan", width=8, class_weight=0.0).step(x, y, 0)
    assert with_class["loss_g"] - without["loss_g"] == pytest.approx(with_class["class_loss_fake"], rel=1e-4)


def test_acgan_learns_to_classify_real_images():
    # classes that are trivially separable: class k is an image of constant brightness k
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (256,), generator=g)
    x = (y.float() / 3 * 2 - 1).view(-1, 1, 1, 1).expand(-1, *SHAPE).contiguous()
    v = make("acgan", n_classes=4, width=8)
    accuracy = [v.step(x[i : i + 32], y[i : i + 32], i)["real_class_accuracy"] for i in range(0, 256, 32) for _ in range(4)]
    assert sum(accuracy[-4:]) / 4 > 0.9 > accuracy[0]


def test_infogan_q_shares_the_discriminator_body_and_learns_the_codes():
    v = make("infogan", width=8)
    assert set(v.nets) == {"generator", "body", "discriminator", "q"}
    d_params = {id(p) for group in v.optimizers["discriminator"].param_groups for p in group["params"]}
    assert {id(p) for p in v.nets["q"].parameters()} <= d_params  # Q trains with D, on D's features
    assert {id(p) for p in v.nets["body"].parameters()} <= d_params
    assert v.optimizers["generator"].defaults["lr"] == 1e-3 and v.optimizers["discriminator"].defaults["lr"] == 2e-4
    # the generator's input carries the codes, and split() recovers them
    latent = v.noise(6)
    assert latent.shape == (6, 62 + 10 + 2)
    cat, cont = v.split(latent)
    assert torch.equal(latent[:, 62:72].argmax(1), cat) and torch.equal(latent[:, 72:], cont)
    assert cont.abs().max() <= 1
    # maximising the mutual information: Q's loss on the categorical code falls well below chance (log 10)
    x = torch.rand(32, *SHAPE) * 2 - 1
    info = [v.step(x, None, s)["info_cat"] for s in range(60)]
    assert info[0] > 1.5 and sum(info[-10:]) / 10 < 0.5 * math.log(10)


def test_infogan_traversal_grids_vary_one_code_per_column():
    v = make("infogan", width=8)
    v.nets.eval()
    figs = v.figures()
    assert set(figs) == {"traverse_category", "traverse_continuous0", "traverse_continuous1"}
    images, nrow = figs["traverse_category"]
    assert images.shape == (100, *SHAPE) and nrow == 10
    grid = images.view(10, 10, -1)
    assert not torch.allclose(grid[:, 0], grid[:, 1])  # columns differ by the code
    assert not torch.allclose(grid[0], grid[1])  # rows differ by z


def test_infogan_writes_traversal_grids_beside_the_samples(tmp_path):
    v = make("infogan", width=8)
    x = torch.rand(16, *SHAPE) * 2 - 1
    cfg = TrainConfig(steps=2, batch_size=8, sample_every=2, checkpoint_every=2, log_every=1, n_samples=4, dvclive=False)
    Trainer(v, x, None, cfg, tmp_path).fit(progress=False)
    names = sorted(p.name for p in (tmp_path / "samples").iterdir())
    assert names == ["step_0000002.png", "traverse_category_step_0000002.png",
                     "traverse_continuous0_step_0000002.png", "traverse_continuous1_step_0000002.png"]


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
