"""What the Variant base gives every variant: the sample grids of conditional variants."""

from __future__ import annotations

import torch

from ganlab.models import registry
from ganlab.models.base import DataSpec

SHAPE = (1, 28, 28)


def make(name: str, shape=SHAPE, n_classes: int = 10, **kw):
    cls = registry.get(name)
    torch.manual_seed(0)
    return cls(cls.Config(**kw), DataSpec(shape, n_classes), torch.device("cpu"))


def test_conditional_grids_put_one_class_per_column():
    v = make("acgan", width=8)
    _, y = v.grid_inputs(100, torch.Generator().manual_seed(0))
    assert y.view(10, 10).tolist() == [list(range(10))] * 10
