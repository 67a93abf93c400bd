"""What every sequence variant shares (ganlab.models.sequence): the LSTM language model, its inverse-CDF draws,
token data only, and the phases a run records.

SeqGAN's and MaliGAN's own mechanisms are in tests/models/test_seqgan.py and tests/models/test_maligan.py.
"""

from __future__ import annotations

import json

import pytest
import torch
from tiny_variants import SEQ_LENGTH as LENGTH, SEQ_VOCAB as VOCAB, build_sequence as make, random_tokens as tokens

from ganlab.models import registry
from ganlab.models.base import DataSpec
from ganlab.models.sequence import LSTMLanguageModel, inverse_cdf
from ganlab.train.trainer import TrainConfig, Trainer


# --------------------------------------------------------------------------- the language model


def test_log_probs_are_the_chain_rule_of_step_by_step_sampling_states():
    torch.manual_seed(0)
    model = LSTMLanguageModel(VOCAB, 5, 7, LENGTH)
    seqs = tokens(3)
    with torch.no_grad():
        states = model.prefix_states(seqs)
        for t, (h, _) in enumerate(states):  # the state position t is drawn from gives log_probs[:, t]
            expected = torch.log_softmax(model.out(h[0]), -1).gather(1, seqs[:, t : t + 1]).squeeze(1)
            assert torch.allclose(model.log_probs(seqs)[:, t], expected, atol=1e-5)


def test_samples_are_a_function_of_their_uniform_numbers():
    torch.manual_seed(0)
    model = LSTMLanguageModel(VOCAB, 5, 7, LENGTH)
    u = torch.rand(50, LENGTH, generator=torch.Generator().manual_seed(3))
    a, b = model.sample(u), model.sample(u.clone())
    assert torch.equal(a, b) and a.shape == (50, LENGTH)
    assert not torch.equal(a, model.sample(torch.rand(50, LENGTH)))


# --------------------------------------------------------------------------- runs


@pytest.mark.parametrize("name", ["seqgan", "maligan", "seq_mle"])
def test_train_summary_records_the_phases_and_the_report_counts_from_them(tmp_path, name):
    from ganlab.report.sequences import schedule

    config = TrainConfig(steps=6, batch_size=4, log_every=1, sample_every=6, checkpoint_every=6, n_samples=2,
                         dvclive=False)
    Trainer(make(name), tokens(40), None, config, tmp_path / name).fit(progress=False)
    phases = json.loads((tmp_path / name / "train_summary.json").read_text())["phases"]
    plan = schedule(phases, batch=4, n_train=40)
    if name == "seq_mle":
        assert phases == [{"name": "mle", "steps": 6}]
        assert plan == {"mle_steps": 6, "mle_epochs": 0.6, "d_pretrain_steps": 0, "adversarial_iterations": 0,
                        "g_updates": 0, "d_minibatches": 0, "rollouts": None}
        return
    adversarial = {"g_updates": 1, "d_minibatches": 3, **({"rollouts": 4} if name == "seqgan" else {})}
    assert phases == [{"name": "mle", "steps": 2},
                      {"name": "discriminator", "steps": 2, "per_step": {"d_minibatches": 1}},
                      {"name": "adversarial", "steps": 2, "per_step": adversarial}]
    assert plan == {"mle_steps": 2, "mle_epochs": 0.2, "d_pretrain_steps": 2, "adversarial_iterations": 2,
                    "g_updates": 2, "d_minibatches": 2 + 2 * 3, "rollouts": 4 if name == "seqgan" else None}


def test_sequence_variant_refuses_image_data():
    cls = registry.get("seqgan")
    with pytest.raises(ValueError, match="trains on token sequences"):
        cls(cls.Config(), DataSpec((1, 28, 28), 10), torch.device("cpu"))


def test_inverse_cdf_draws_follow_the_probabilities_and_never_pick_an_impossible_category():
    probs = torch.tensor([[0.0, 0.2, 0.0, 0.5, 0.3, 0.0]]).repeat(40_000, 1)
    u = torch.rand(40_000, generator=torch.Generator().manual_seed(0))
    picks = inverse_cdf(probs, u)
    freq = torch.bincount(picks, minlength=6).float() / len(picks)
    assert torch.allclose(freq, probs[0], atol=0.01)
    assert set(picks.unique().tolist()) == {1, 3, 4}  # zero-probability categories are never drawn
    assert torch.equal(picks, inverse_cdf(probs, u))
    # the category whose cumulative interval holds u: [0, .2) -> 1, [.2, .7) -> 3, [.7, 1) -> 4
    assert inverse_cdf(probs[:4], torch.tensor([0.0, 0.19, 0.2, 0.99])).tolist() == [1, 1, 3, 4]
