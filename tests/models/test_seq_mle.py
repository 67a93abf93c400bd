"""MLE (the sequence-GAN baseline, Yu et al. 2017): a teacher-forced LSTM language model."""

from __future__ import annotations

import torch
from tiny_variants import LENGTH, VOCAB, make

CONTRACT = {"embed": 4, "hidden": 4}  # the contract test's settings (read by tests/tiny_variants.py)


def test_seq_mle_steps_lower_the_teacher_forced_nll_of_the_batch_it_fits():
    v = make("seq_mle")
    x = torch.randint(0, VOCAB, (16, LENGTH), generator=torch.Generator().manual_seed(3))
    before = float(v.mle_loss(x).detach())
    losses = [v.step(x, None, s) for s in range(30)]
    assert float(v.mle_loss(x).detach()) < before - 0.05
    assert all(loss and all(map(torch.isfinite, map(torch.tensor, loss.values()))) for loss in losses)


def test_seq_mle_has_one_open_mle_phase():
    v = make("seq_mle")
    assert [(p.name, p.steps) for p in type(v).phases(v.config)] == [("mle", None)]
