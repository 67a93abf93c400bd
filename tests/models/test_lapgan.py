"""LAPGAN (Denton et al., 2015): the Laplacian pyramid and the coarse-to-fine chain of generators."""

from __future__ import annotations

import pytest
import torch
from tiny_variants import build as make, random_images as images


CONTRACT = {"width": 8, "hidden": 16, "z_dim": 8}  # the contract test's settings (read by tests/tiny_variants.py)

SHAPE = (1, 28, 28)


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
