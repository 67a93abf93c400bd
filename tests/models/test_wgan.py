"""WGAN (Arjovsky et al., 2017): weight clipping with RMSProp, and the critic's warm-up schedule."""

from __future__ import annotations

import torch
from tiny_variants import SHAPE, data, make

from ganlab.models import registry
from ganlab.models.base import DataSpec

CONTRACT = {"width": 8, "n_critic": 2, "warmup_critic": 3, "warmup_steps": 1, "refresh_every": 2}  # the contract test's settings (read by tests/tiny_variants.py)


def test_wgan_clips_critic_weights_after_every_step():
    v = make("wgan")
    x, y = data(16)
    v.step(x, y, 0)
    clip = v.config.clip
    assert all(p.abs().max() <= clip + 1e-7 for p in v.nets["discriminator"].parameters())
    assert isinstance(v.optimizers["discriminator"], torch.optim.RMSprop)


def test_wgan_critic_warmup_and_the_data_stream_position_agree():
    cls = registry.get("wgan")
    assert {cls(cls.Config(width=4), DataSpec(SHAPE, 0), torch.device("cpu")).real_batches_per_step(s)
            for s in range(600)} == {5}  # the default: Algorithm 1
    v = cls(cls.Config(width=4, warmup_critic=100), DataSpec(SHAPE, 0), torch.device("cpu"))
    counts = [v.real_batches_per_step(s) for s in range(1100)]
    assert counts[:25] == [100] * 25 and counts[25:30] == [5] * 5  # the authors' schedule
    assert counts[500] == counts[1000] == 100 and counts[501] == 5
    for s in (0, 1, 24, 25, 26, 499, 500, 501, 1000, 1099):
        assert v.batches_before(s) == sum(counts[:s]), s
    gp = registry.get("wgan_gp")
    assert {gp(gp.Config(width=4), DataSpec(SHAPE, 0), torch.device("cpu")).real_batches_per_step(s)
            for s in range(600)} == {5}  # WGAN-GP: Algorithm 1, no warm-up
