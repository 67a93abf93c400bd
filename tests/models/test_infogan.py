"""InfoGAN (Chen et al., 2016): Q on the discriminator's body, the codes it learns, the traversal grids."""

from __future__ import annotations

import math

import torch
from tiny_variants import build_labelled as make

from ganlab.train.trainer import TrainConfig, Trainer

CONTRACT = {"width": 8}  # the contract test's settings (read by tests/tiny_variants.py)

SHAPE = (1, 28, 28)


def test_infogan_q_shares_the_discriminator_body_and_learns_the_codes():
    v = make("infogan", width=8, arch="dcgan")  # DCGAN's networks: Q reads the code back fast
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


def test_the_papers_networks_put_fc_1024_layers_around_the_convolutions_and_learn_the_codes():
    v = make("infogan", width=8, arch="paper")
    g, body, q = v.nets["generator"], v.nets["body"], v.nets["q"]
    linear = [m for m in g if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(74, 1024), (1024, 16 * 7 * 7)]  # 2 width at 7 x 7
    assert [m.out_channels for m in body if isinstance(m, torch.nn.Conv2d)] == [8, 16]
    assert [m.out_features for m in body if isinstance(m, torch.nn.Linear)] == [1024]
    assert v.nets["discriminator"].in_features == 1024 and q.net[0].in_features == 1024
    d_params = {id(p) for group in v.optimizers["discriminator"].param_groups for p in group["params"]}
    assert {id(p) for p in q.parameters()} <= d_params and {id(p) for p in body.parameters()} <= d_params
    assert v.sample(v.noise(3)).shape == (3, *SHAPE)
    x = torch.rand(32, *SHAPE) * 2 - 1
    info = [v.step(x, None, s)["info_cat"] for s in range(60)]
    assert info[0] > 1.5 and sum(info[-10:]) / 10 < 0.75 * math.log(10)  # slower than with DCGAN's networks
