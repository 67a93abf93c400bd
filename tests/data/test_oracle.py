"""SeqGAN's synthetic oracle: drawn from its own seed, its samples, NLL-oracle, and the dataset folder."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from ganlab.data.oracle import START, OracleLSTM, build_oracle, load_oracle, nll_oracle, write_oracle
from ganlab.errors import DataFormatError
from ganlab.data.config import OracleParams

SMALL = OracleParams(vocab=50, length=6, embed=8, hidden=8, n_train=300, seed=3)


def test_every_parameter_is_drawn_from_a_standard_normal_by_the_oracles_seed():
    big = build_oracle(OracleParams(vocab=500, length=4, seed=1))
    values = torch.cat([p.flatten() for p in big.parameters()])
    assert len(values) > 30_000
    assert abs(values.mean().item()) < 0.02 and values.std().item() == pytest.approx(1.0, abs=0.02)
    again, other = build_oracle(OracleParams(vocab=500, length=4, seed=1)), build_oracle(OracleParams(vocab=500, length=4, seed=2))
    assert all(torch.equal(a, b) for a, b in zip(big.parameters(), again.parameters()))
    assert not torch.equal(next(big.parameters()), next(other.parameters()))


def test_nll_is_the_chain_rule_over_positions_from_the_start_token():
    oracle = build_oracle(SMALL)
    seqs = torch.randint(0, SMALL.vocab, (4, SMALL.length), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = torch.zeros(4)
        for i, s in enumerate(seqs):
            state, prev = None, torch.tensor([[START]])
            for t in range(SMALL.length):  # one token at a time, as sampling does
                h, state = oracle.lstm(oracle.embed(prev), state)
                expected[i] -= torch.log_softmax(oracle.out(h[:, -1]), -1)[0, s[t]]
                prev = s[t].view(1, 1)
        assert torch.allclose(oracle.nll(seqs), expected / SMALL.length, atol=1e-4)
    assert nll_oracle(oracle, seqs) == pytest.approx((expected / SMALL.length).mean().item(), rel=1e-5)
    with pytest.raises(ValueError, match=r"\(n, 6\)"):
        nll_oracle(oracle, seqs[:, :3])


def test_samples_follow_the_oracle_and_score_below_uniform_tokens():
    oracle = build_oracle(SMALL)
    g = torch.Generator().manual_seed(0)
    own = oracle.sample(torch.rand(2000, SMALL.length, generator=g))
    assert own.shape == (2000, SMALL.length) and own.dtype == torch.long
    again = build_oracle(SMALL).sample(torch.rand(2000, SMALL.length, generator=torch.Generator().manual_seed(0)))
    assert torch.equal(own, again)  # the same uniform numbers, the same sequences
    uniform = torch.randint(0, SMALL.vocab, own.shape, generator=g)
    # its own samples score its entropy rate; uniform tokens score far worse (cross-entropy >= entropy)
    assert nll_oracle(oracle, own) < nll_oracle(oracle, uniform) - 1.0
    # the first token's empirical frequencies match the oracle's first distribution
    with torch.no_grad():
        p0 = torch.softmax(oracle.logits(own[:1])[0, 0], -1)
    freq = torch.bincount(own[:, 0], minlength=SMALL.vocab).float() / len(own)
    assert (freq - p0).abs().max() < 0.04


def test_written_dataset_loads_with_its_oracle_and_records_its_floor(tmp_path):
    info = write_oracle(SMALL, tmp_path / "oracle")
    tokens, oracle, saved = load_oracle(tmp_path / "oracle")
    assert tokens.shape == (300, 6) and tokens.dtype == torch.long and int(tokens.max()) < 50
    assert saved == json.loads(json.dumps(info))
    assert all(torch.equal(a, b) for a, b in zip(oracle.parameters(), build_oracle(SMALL).parameters()))
    floor = saved["oracle_nll_of_its_own_samples"]
    assert 0 < floor < math.log(50)  # a random LSTM with N(0, 1) weights is far from uniform
    assert nll_oracle(oracle, tokens) == pytest.approx(floor, abs=0.3)  # the training set is more of the same
    write_oracle(SMALL, tmp_path / "again")
    assert (tmp_path / "again" / "train.npy").read_bytes() == (tmp_path / "oracle" / "train.npy").read_bytes()


def test_damaged_oracle_dataset_is_named(tmp_path):
    write_oracle(SMALL, tmp_path / "oracle")
    with pytest.raises(DataFormatError, match="not an oracle dataset"):
        load_oracle(tmp_path / "nothing")
    tokens = np.load(tmp_path / "oracle" / "train.npy")
    tokens[0, 0] = (tokens[0, 0] + 1) % 50
    np.save(tmp_path / "oracle" / "train.npy", tokens)
    with pytest.raises(DataFormatError, match="sha256 differs"):
        load_oracle(tmp_path / "oracle")
    (tmp_path / "oracle" / "oracle.pt").write_bytes(b"junk")
    with pytest.raises(DataFormatError, match="unreadable oracle dataset"):
        load_oracle(tmp_path / "oracle")


def test_oracle_lstm_has_the_papers_shape_by_default():
    p = OracleParams()
    o = OracleLSTM(p.vocab, p.embed, p.hidden, p.length)
    assert (o.embed.num_embeddings, o.embed.embedding_dim, o.lstm.hidden_size, o.out.out_features) == (5000, 32, 32, 5000)
    assert (p.length, p.n_train) == (20, 10000)
