"""DCGAN's networks at every image size the project trains on."""

from __future__ import annotations

import dataclasses

import pytest

import torch

from ganlab.models import registry
from ganlab.models.base import DataSpec

CONTRACT = {"width": 8}  # the contract test's settings (read by tests/tiny_variants.py)


def test_dcgan_sizes():
    for size, ch in ((28, 1), (32, 3), (64, 3)):
        cls = registry.get("dcgan")
        v = cls(dataclasses.replace(cls.Config(), width=8), DataSpec((ch, size, size), 0), torch.device("cpu"))
        with torch.no_grad():
            assert v.sample(v.noise(2)).shape == (2, ch, size, size)
            assert v.nets["discriminator"](torch.zeros(2, ch, size, size)).shape == (2, 1)


def _generator_layers(variant: str, **config) -> list[torch.nn.Module]:
    from ganlab.runs import build_variant

    v = build_variant(variant, {"width": 8, **config}, {"shape": [1, 28, 28], "n_classes": 0})
    return list(v.nets["generator"].modules())


def test_g_norm_none_takes_every_norm_out_of_the_generator_and_gives_each_layer_a_bias():
    for variant in ("dcgan", "lsgan", "wgan", "wgan_gp", "sngan"):
        plain, normed = _generator_layers(variant, g_norm="none"), _generator_layers(variant)
        convs = [m for m in plain if isinstance(m, torch.nn.ConvTranspose2d)]
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in plain), variant
        assert len(convs) == 3 and all(c.bias is not None for c in convs), variant
        # the default keeps DCGAN's generator: batch norm after each hidden layer, no bias before it
        assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in normed) == 2, variant
        assert [c.bias is None for c in normed if isinstance(c, torch.nn.ConvTranspose2d)] == [True, True, False]
        assert [type(m) for m in plain if not isinstance(m, torch.nn.Sequential)] == [
            type(m) for m in normed if not isinstance(m, (torch.nn.Sequential, torch.nn.BatchNorm2d))], variant


def test_g_norm_none_leaves_the_discriminator_as_it_was_and_still_trains():
    from ganlab.runs import build_variant

    spec = {"shape": [1, 28, 28], "n_classes": 0}
    torch.manual_seed(0)
    plain = build_variant("dcgan", {"width": 8, "g_norm": "none"}, spec)
    torch.manual_seed(0)
    normed = build_variant("dcgan", {"width": 8}, spec)
    assert str(plain.nets["discriminator"]) == str(normed.nets["discriminator"])
    x = torch.rand(8, 1, 28, 28) * 2 - 1
    before = [p.detach().clone() for p in plain.nets["generator"].parameters()]
    losses = plain.step(x, None, 0)
    assert all(torch.isfinite(torch.tensor(v)) for v in losses.values())
    assert all(not torch.equal(a, b) for a, b in zip(before, plain.nets["generator"].parameters()))


def test_g_norm_is_refused_where_the_generator_does_not_take_it():
    from ganlab.errors import ParamsError

    for variant, why in (("acgan", "ACGAN's generator keeps DCGAN's batch norm"),
                         ("infogan", "InfoGAN's generators keep their batch norm")):
        with pytest.raises(ParamsError, match=rf"^g_norm = 'none' is not available here: {why}$"):
            registry.get(variant).Config(g_norm="none")
    with pytest.raises(ParamsError, match="arch = 'toy' has no batch norm to remove"):
        registry.get("wgan").Config(arch="toy", g_norm="none")
    with pytest.raises(ParamsError, match="vbn_reference = 16 is not available here: g_norm = 'none' has no batch"):
        registry.get("dcgan").Config(vbn_reference=16, g_norm="none")
    from ganlab.schema import from_dict

    with pytest.raises(ParamsError, match=r"g_norm.*'layer'"):
        from_dict(registry.get("dcgan").Config, {"g_norm": "layer"}, "models.x.model")
