"""BiGAN (Donahue et al., 2017): the discriminator of (x, z) pairs, the encoder as part of the generator."""

from __future__ import annotations

import torch

from ganlab.models import registry
from ganlab.models.base import DataSpec
from ganlab.runs import RunDir, load_generator
from ganlab.train.trainer import TrainConfig, Trainer

CONTRACT = {"width": 8, "z_dim": 8, "joint": 16}  # the contract test's settings (read by tests/tiny_variants.py)

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
