"""SeqGAN's mechanisms (Yu et al., 2017): Monte-Carlo rollouts, the phases, the rewards, the policy gradient,
the delayed rollout copy and the paper's discriminator.

What every sequence variant shares (the LSTM language model, the phases a run records) is in
tests/models/test_sequence.py.
"""

from __future__ import annotations

import math

import pytest
import torch
from tiny_variants import SEQ_LENGTH as LENGTH, SEQ_VOCAB as VOCAB, build_sequence as make, random_tokens as tokens

from ganlab.errors import ParamsError
from ganlab.models import registry
from ganlab.models.base import DataSpec
from ganlab.models.seqgan import PAPER_FILTER_COUNTS, PAPER_FILTER_SIZES, rollouts
from ganlab.models.sequence import LSTMLanguageModel, inverse_cdf
from ganlab.schema import from_dict

# step 0 MLE, step 1 the discriminator, steps 2-3 adversarial: resume crosses both switches
CONTRACT = {"embed": 4, "hidden": 4, "pretrain_steps": 1, "d_pretrain_steps": 1, "d_steps": 2, "rollouts": 2, "d_embed": 4, "d_filter_sizes": (1, 2, 3), "d_filter_counts": (3, 3, 2)}  # the contract test's settings (read by tests/tiny_variants.py)


def state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def changed(before: dict, module: torch.nn.Module) -> bool:
    return any(not torch.equal(before[k], v) for k, v in module.state_dict().items())


# --------------------------------------------------------------------------- rollouts


@torch.no_grad()
def complete(model: LSTMLanguageModel, prefix: torch.Tensor, uniforms: list[float]) -> torch.Tensor:
    """The slow, obviously right rollout: rerun the whole sequence for every new token, drawn by
    inverse CDF from the next uniform number."""
    seq = prefix.clone()
    for u in uniforms:
        padded = torch.cat([seq, torch.zeros(LENGTH - len(seq), dtype=torch.long)]).unsqueeze(0)
        probs = torch.softmax(model.logits(padded)[0, len(seq)], -1)
        seq = torch.cat([seq, inverse_cdf(probs.unsqueeze(0), torch.tensor([u]))])
    return seq


def test_rollouts_equal_completing_each_prefix_from_scratch_with_the_same_random_numbers():
    torch.manual_seed(4)
    model = LSTMLanguageModel(VOCAB, 5, 7, LENGTH)
    seqs, n, b = tokens(4), 3, 4
    done = rollouts(model, seqs, n=n, generator=torch.Generator().manual_seed(0))
    assert done.shape == (LENGTH - 1, n, b, LENGTH)
    # rollouts draws, at each position p = 1..L-1, one number per row of the prefixes shorter than p,
    # rows ordered (prefix length, rollout, sequence)
    g = torch.Generator().manual_seed(0)
    u = {p: torch.rand(p * n * b, generator=g) for p in range(1, LENGTH)}
    for t in range(1, LENGTH):
        for r in range(n):
            for i in range(b):
                row = ((t - 1) * n + r) * b + i
                expected = complete(model, seqs[i, :t], [u[p][row].item() for p in range(t, LENGTH)])
                assert torch.equal(done[t - 1, r, i], expected), (t, r, i)


def test_rollout_tokens_follow_the_models_conditional_distribution():
    torch.manual_seed(0)
    model = LSTMLanguageModel(VOCAB, 5, 7, LENGTH)
    seqs = tokens(1).repeat(1, 1)
    done = rollouts(model, seqs, n=20_000, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        for t in (1, 4):  # the first drawn token of prefix t follows p(. | seqs[:, :t])
            p = torch.softmax(model.logits(seqs)[0, t], -1)
            freq = torch.bincount(done[t - 1, :, 0, t], minlength=VOCAB).float() / 20_000
            assert (freq - p).abs().max() < 0.015


# --------------------------------------------------------------------------- phases, rewards and the discriminator


def test_seqgan_defaults_are_the_papers():
    c = registry.get("seqgan").Config()
    assert (c.embed, c.hidden, c.rollouts, c.rollout_update, c.d_embed) == (32, 32, 16, 0.8, 64)
    assert c.d_filter_sizes == PAPER_FILTER_SIZES and sum(c.d_filter_counts) == 1720
    assert (c.d_dropout, c.d_l2, c.d_lr, c.lr, c.clip) == (0.25, 0.2, 1e-4, 0.01, 5.0)
    v = registry.get("seqgan")(c, DataSpec((20,), 0, vocab=50), torch.device("cpu"))
    assert [conv.kernel_size[0] for conv in v.nets["discriminator"].convs] == list(PAPER_FILTER_SIZES)
    assert [conv.out_channels for conv in v.nets["discriminator"].convs] == list(PAPER_FILTER_COUNTS)


@pytest.mark.parametrize("sizes, counts", [((1, 2), (4, 10**6)), ((1, 10**6), (4, 4)), (tuple(range(1, 66)), (4,) * 65)])
def test_the_discriminators_filter_lists_are_bounded(sizes, counts):
    """A count of a million filters would make gigabytes of discriminator, from params.yaml or a generator.pt's config."""
    with pytest.raises(ParamsError, match=r"config: d_filter_sizes .* must be equally long lists of 1 to 64 positive "
                                          r"integers: widths up to 1000, counts up to 4096"):
        from_dict(registry.get("seqgan").Config, {"d_filter_sizes": list(sizes), "d_filter_counts": list(counts)},
                  "config")


def test_seqgan_phases_train_the_right_networks_and_consume_the_data_stream_in_order():
    v = make("seqgan")
    assert [v.phase(s) for s in range(6)] == ["mle", "mle", "discriminator", "discriminator", "adversarial",
                                              "adversarial"]
    assert [v.batches_before(s) for s in range(7)] == [0, 1, 2, 3, 4, 7, 10]
    assert all(v.batches_before(s + 1) - v.batches_before(s) == v.real_batches_per_step(s) for s in range(10))
    x = tokens(8)
    g, d, r = (state(v.nets[k]) for k in ("generator", "discriminator", "rollout"))
    assert "nll" in v.step(x, None, 0)
    assert changed(g, v.nets["generator"]) and not changed(d, v.nets["discriminator"])
    g = state(v.nets["generator"])
    assert {"d_loss", "d_real", "d_fake"} <= set(v.step(x, None, 2))
    assert changed(d, v.nets["discriminator"]) and not changed(g, v.nets["generator"])
    assert not changed(r, v.nets["rollout"])  # the delayed copy waits for the adversarial phase
    g, d = state(v.nets["generator"]), state(v.nets["discriminator"])
    losses = v.step(tokens(24), None, 4)  # one adversarial iteration: 1 policy step, 3 discriminator steps
    assert {"pg_loss", "reward", "d_loss"} <= set(losses) and 0 <= losses["reward"] <= 1
    assert changed(g, v.nets["generator"]) and changed(d, v.nets["discriminator"])


def test_seqgan_is_scored_through_mle_at_its_end_and_every_few_adversarial_iterations():
    v = make("seqgan", pretrain_steps=4, d_pretrain_steps=2, eval_iterations=3)
    # steps done: MLE every 2 and at its end (4); none while only D trains; then every 3 iterations
    assert [s for s in range(20) if v.eval_due(s, 2)] == [0, 2, 4, 9, 12, 15, 18]
    assert [s for s in range(8) if v.eval_due(s, 0)] == [4]  # eval_every 0: the MLE phase only at its end


def test_the_delayed_rollout_copy_moves_a_fifth_of_the_way_and_copies_the_embedding():
    v = make("seqgan", rollout_update=0.8)
    v.step(tokens(8), None, 0)  # the generator moves away from its initial weights
    v.nets["rollout"].load_state_dict(state(v.nets["rollout"]))
    old, gen = state(v.nets["rollout"]), state(v.nets["generator"])
    v.move_rollout()
    new = state(v.nets["rollout"])
    for k in old:
        want = gen[k] if k.startswith("embed.") else 0.8 * old[k] + 0.2 * gen[k]
        assert torch.allclose(new[k], want, atol=1e-6), k
    v0 = make("seqgan", rollout_update=0.0)
    v0.step(tokens(8), None, 0)
    v0.move_rollout()
    assert not changed(state(v0.nets["generator"]), v0.nets["rollout"])  # 0: the current generator


def test_adversarial_phase_starts_its_rollout_copy_from_the_pretrained_generator():
    v = make("seqgan", d_steps=1)
    for s in range(4):
        v.step(tokens(8, seed=s), None, s)
    pretrained = state(v.nets["generator"])
    v.step(tokens(8), None, 4)
    rollout = state(v.nets["rollout"])
    after = state(v.nets["generator"])
    for k in rollout:  # one update of the copy: 0.8 x the pretrained generator + 0.2 x the updated one
        want = after[k] if k.startswith("embed.") else 0.8 * pretrained[k] + 0.2 * after[k]
        assert torch.allclose(rollout[k], want, atol=1e-6), k


def test_seqgan_rewards_are_discriminator_probabilities_of_completions_and_of_the_whole_sequence():
    v = make("seqgan", rollouts=3)
    seqs = tokens(4)
    q = v.rewards(seqs)
    assert q.shape == (4, LENGTH) and ((q >= 0) & (q <= 1)).all()
    d = v.nets["discriminator"].eval()
    with torch.no_grad():
        assert torch.allclose(q[:, -1], torch.sigmoid(d(seqs)))  # the last token: D of the sequence itself
    v.rewards(seqs)
    assert not v.nets["discriminator"].training  # rewards leave the mode as they found it
    v.nets["discriminator"].train()
    v.rewards(seqs)
    assert v.nets["discriminator"].training


def test_policy_gradient_raises_the_likelihood_of_rewarded_tokens():
    v = make("seqgan")
    seqs = tokens(6)
    q = torch.zeros(6, LENGTH)
    q[:3] = 1.0  # only the first three sequences are rewarded
    g = v.nets["generator"]
    before = g.log_probs(seqs).sum(1).detach()
    for _ in range(5):
        v.update("policy", v.policy_loss(seqs, q), v.config.clip)
    gain = g.log_probs(seqs).sum(1).detach() - before
    assert (gain[:3] > 0).all() and gain[:3].mean() > gain[3:].mean()


def test_constant_reward_control_rewards_every_token_one_and_leaves_the_discriminator_alone():
    v = make("seqgan", reward="constant", pretrain_steps=0, d_pretrain_steps=0)
    assert torch.equal(v.rewards(tokens(3)), torch.ones(3, LENGTH))
    d = state(v.nets["discriminator"])
    losses = v.step(tokens(24), None, 0)
    assert losses["reward"] == 1.0 and not changed(d, v.nets["discriminator"])


def test_discriminator_l2_covers_only_its_output_layer():
    v = make("seqgan", d_l2=1000.0, d_lr=0.05)
    out_before = v.nets["discriminator"].out.weight.norm().item()
    for _ in range(20):
        v.discriminator_step(tokens(8))
    assert v.nets["discriminator"].out.weight.norm().item() < 0.5 * out_before  # shrunk by the penalty


def test_a_run_cut_short_records_the_phases_it_reached():
    assert make("seqgan").planned_phases(3)[1:] == [
        {"name": "discriminator", "steps": 1, "per_step": {"d_minibatches": 1}},
        {"name": "adversarial", "steps": 0, "per_step": {"g_updates": 1, "d_minibatches": 3, "rollouts": 4}}]


def test_paper_discriminator_is_the_authors_network():
    cls = registry.get("seqgan")
    v = cls(cls.Config(), DataSpec((20,), 0, vocab=5000), torch.device("cpu"))
    d = v.nets["discriminator"]
    assert d.highway.transform.in_features == 1720 and float(d.highway.gate.bias.detach().abs().max()) == 0.0
    assert math.isclose(d.dropout.p, 0.25)
    assert d.embed.weight.min() >= -1 and d.embed.weight.max() <= 1
