"""MaliGAN (Che et al., 2017): SeqGAN's training with normalised importance weights as the reward."""

from __future__ import annotations

import torch
from tiny_variants import SEQ_LENGTH as LENGTH, build_sequence as make, random_tokens as tokens


CONTRACT = {"embed": 4, "hidden": 4, "pretrain_steps": 1, "d_pretrain_steps": 1, "d_steps": 2, "d_embed": 4, "d_filter_sizes": (1, 2, 3), "d_filter_counts": (3, 3, 2)}  # the contract test's settings (read by tests/tiny_variants.py)


def test_maligan_weights_are_normalised_importance_ratios_minus_their_mean():
    v = make("maligan")
    seqs = tokens(5)
    w = v.rewards(seqs)
    assert w.shape == (5, LENGTH) and torch.allclose(w, w[:, :1].expand_as(w))  # one weight a sequence
    with torch.no_grad():
        p = torch.sigmoid(v.nets["discriminator"].eval()(seqs))
    ratio = p / (1 - p)
    assert torch.allclose(w[:, 0], ratio / ratio.sum() - 1 / 5, atol=1e-6)
    assert w[:, 0].sum().abs() < 1e-6
    assert int(w[:, 0].argmax()) == int(p.argmax())  # the most 'real' sample is pushed up most


def test_maligan_differs_from_seqgan_only_in_the_reward():
    s, m = make("seqgan"), make("maligan")
    assert all(torch.equal(a, b) for a, b in zip(s.nets.parameters(), m.nets.parameters()))
    assert type(m).rewards is not type(s).rewards and type(m).step is type(s).step
