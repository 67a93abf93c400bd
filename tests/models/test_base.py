"""What the Variant base gives every variant: the sample grids of conditional variants."""

from __future__ import annotations

import torch
from tiny_variants import build_labelled as make


def test_conditional_grids_put_one_class_per_column():
    v = make("acgan", width=8)
    _, y = v.grid_inputs(100, torch.Generator().manual_seed(0))
    assert y.view(10, 10).tolist() == [list(range(10))] * 10
