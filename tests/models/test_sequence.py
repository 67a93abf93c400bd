"""The sequence GANs' mechanisms: rollouts, SeqGAN's phases and rewards, MaliGAN's weights, and their runs."""

from __future__ import annotations

import json
import math

import pytest
import torch

from ganlab.models import registry
from ganlab.models.base import DataSpec
from ganlab.models.seqgan import PAPER_FILTER_COUNTS, PAPER_FILTER_SIZES, rollouts
from ganlab.models.sequence import LSTMLanguageModel, inverse_cdf
from ganlab.train.trainer import TrainConfig, Trainer

LENGTH, VOCAB = 6, 9
TINY = {"embed": 8, "hidden": 8, "pretrain_steps": 2, "d_pretrain_steps": 2, "d_steps": 3, "rollouts": 4,
        "d_embed": 8, "d_filter_sizes": (1, 2, 3), "d_filter_counts": (4, 4, 4)}


def make(name: str, seed: int = 0, **config):
    cls = registry.get(name)
    torch.manual_seed(seed)
    fields = {k: v for k, v in {**TINY, **config}.items() if k in cls.Config.__dataclass_fields__}
    return cls(cls.Config(**fields), DataSpec((LENGTH,), 0, vocab=VOCAB), torch.device("cpu"))


def tokens(n: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, VOCAB, (n, LENGTH), generator=torch.Generator().manual_seed(seed))


def state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def changed(before: dict, module: torch.nn.Module) -> bool:
    return any(not torch.equal(before[k], v) for k, v in module.state_dict().items())


# --------------------------------------------------------------------------- the language model and rollouts


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


# --------------------------------------------------------------------------- SeqGAN


def test_seqgan_defaults_are_the_papers():
    c = registry.get("seqgan").Config()
    assert (c.embed, c.hidden, c.rollouts, c.rollout_update, c.d_embed) == (32, 32, 16, 0.8, 64)
    assert c.d_filter_sizes == PAPER_FILTER_SIZES and sum(c.d_filter_counts) == 1720
    assert (c.d_dropout, c.d_l2, c.d_lr, c.lr, c.clip) == (0.25, 0.2, 1e-4, 0.01, 5.0)
    v = registry.get("seqgan")(c, DataSpec((20,), 0, vocab=50), torch.device("cpu"))
    assert [conv.kernel_size[0] for conv in v.nets["discriminator"].convs] == list(PAPER_FILTER_SIZES)
    assert [conv.out_channels for conv in v.nets["discriminator"].convs] == list(PAPER_FILTER_COUNTS)


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


# --------------------------------------------------------------------------- MaliGAN


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


# --------------------------------------------------------------------------- training runs on the oracle


@pytest.fixture
def small_oracle(tmp_path):
    from ganlab.data.oracle import load_oracle, write_oracle
    from ganlab.data.config import OracleParams

    write_oracle(OracleParams(vocab=30, length=8, embed=8, hidden=8, n_train=512, seed=2), tmp_path / "oracle")
    return load_oracle(tmp_path / "oracle")


def test_trainer_scores_nll_oracle_at_start_every_eval_and_end_and_resumes_them(small_oracle, tmp_path):
    from ganlab.eval.sequences import NllOracle

    tokens_, oracle, info = small_oracle
    spec = DataSpec((8,), 0, vocab=30)

    def trainer(steps: int, out: str) -> Trainer:
        torch.manual_seed(0)
        v = registry.get("seq_mle")(registry.get("seq_mle").Config(embed=8, hidden=8, lr=0.02), spec,
                                    torch.device("cpu"))
        config = TrainConfig(steps=steps, batch_size=32, eval_every=40, log_every=20, sample_every=40,
                             checkpoint_every=40, n_samples=5)
        return Trainer(v, tokens_, None, config, tmp_path / out, monitor=NllOracle(oracle, info, n=500))

    summary = trainer(120, "a").fit(progress=False)
    saved = json.loads((tmp_path / "a" / "train_summary.json").read_text())
    assert [e["step"] for e in saved["evals"]] == [0, 40, 80, 120]
    curve = [e["nll_oracle"] for e in saved["evals"]]
    floor = info["oracle_nll_of_its_own_samples"]
    assert curve[-1] < curve[0] - 0.5  # learning the oracle's language
    assert curve[-1] > floor - 0.3  # nothing beats the oracle's entropy rate by much
    coverage = [e["nll_gen"] for e in saved["evals"]]
    assert coverage[-1] < coverage[0] - 0.5 and coverage[-1] > floor  # cross-entropy >= the entropy rate
    assert summary["eval"]["nll_oracle"] == curve[-1] and saved["eval_protocol"]["n_generated"] == 500
    rows = (tmp_path / "a" / "dvclive" / "plots" / "metrics" / "eval" / "nll_oracle.tsv").read_text().splitlines()
    assert [int(r.split("\t")[0]) for r in rows[1:]] == [0, 40, 80, 120]
    lines = (tmp_path / "a" / "samples" / "step_0000120.txt").read_text().splitlines()
    assert len(lines) == 5 and all(len(line.split()) == 8 for line in lines)

    trainer(80, "b").fit(progress=False)
    trainer(120, "b").fit(resume=True, progress=False)
    resumed = json.loads((tmp_path / "b" / "train_summary.json").read_text())
    assert resumed["evals"] == saved["evals"]  # the same weights, the same noise: the same curve


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


def test_a_run_cut_short_records_the_phases_it_reached():
    assert make("seqgan").planned_phases(3)[1:] == [
        {"name": "discriminator", "steps": 1, "per_step": {"d_minibatches": 1}},
        {"name": "adversarial", "steps": 0, "per_step": {"g_updates": 1, "d_minibatches": 3, "rollouts": 4}}]


def test_text_quality_scores_bleu_against_references_and_self_bleu_among_samples():
    from ganlab.eval.sequences import TextQuality

    words = ("a", "cat", "dog", "sits", ".", "<end>")
    spec = DataSpec((5,), 0, vocab=len(words), words=words, end_token=5)

    class Parrot(registry.get("seq_mle")):  # always says "a cat sits ."
        def sample(self, z, y=None):
            return torch.tensor([[0, 1, 3, 4, 5]]).repeat(len(z), 1)

    parrot = Parrot(Parrot.Config(embed=4, hidden=4), spec, torch.device("cpu"))
    assert parrot.text(torch.tensor([[0, 1, 3, 4, 5], [0, 2, 5, 1, 1]])) == ["a cat sits .", "a dog"]
    scores = TextQuality(["a cat sits .", "a dog sits ."], n=20)(parrot)
    assert scores["bleu2"] == pytest.approx(1.0) and scores["bleu5"] < 1.0  # 4 words have no 5-gram: smoothed
    assert scores["self_bleu2"] == pytest.approx(1.0)  # twenty copies of one sentence: no diversity
    assert scores["mean_words"] == 4
    other = TextQuality(["the dog runs"], n=20)(parrot)
    assert other["bleu2"] < 0.2


def test_sequence_variant_refuses_image_data():
    cls = registry.get("seqgan")
    with pytest.raises(ValueError, match="trains on token sequences"):
        cls(cls.Config(), DataSpec((1, 28, 28), 10), torch.device("cpu"))


def test_paper_discriminator_is_the_authors_network():
    cls = registry.get("seqgan")
    v = cls(cls.Config(), DataSpec((20,), 0, vocab=5000), torch.device("cpu"))
    d = v.nets["discriminator"]
    assert d.highway.transform.in_features == 1720 and float(d.highway.gate.bias.detach().abs().max()) == 0.0
    assert math.isclose(d.dropout.p, 0.25)
    assert d.embed.weight.min() >= -1 and d.embed.weight.max() <= 1
