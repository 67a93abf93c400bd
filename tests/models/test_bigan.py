"""BiGAN (Donahue et al., 2017): the discriminator of (x, z) pairs, the encoder as part of the generator."""

from __future__ import annotations

import torch
from tiny_variants import build as make, random_images as images, short_config as config

from ganlab.runs import RunDir, load_generator
from ganlab.train.trainer import Trainer

CONTRACT = {"width": 8, "z_dim": 8, "joint": 16}  # the contract test's settings (read by tests/tiny_variants.py)

SHAPE = (1, 28, 28)


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
