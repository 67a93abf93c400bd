"""SeqGAN: an LSTM generator trained by policy gradient, rewarded by a CNN discriminator through
Monte-Carlo rollouts.

Yu, Zhang, Wang & Yu, "SeqGAN: Sequence Generative Adversarial Nets with Policy Gradient", AAAI
2017. Sampling a token is not differentiable, so the generator is a policy: the reward of token t
of a sampled sequence is the discriminator's probability of "real" for its completions, averaged
over ``rollouts`` (16) completions of the prefix drawn from a delayed copy of the generator (the
last token's reward is D of the sequence itself), and the generator ascends
sum_t Q_t log G(y_t | y_<t), with no baseline, as the authors' code does. Training runs in three
phases of the trainer's steps:

1. ``pretrain_steps`` steps of MLE (teacher forcing) on the real sequences;
2. ``d_pretrain_steps`` discriminator steps, each on a real batch and as many fresh generated ones;
3. every later step is one adversarial iteration: ``g_steps`` policy-gradient updates, the delayed
   copy moved toward the generator after each (its weights become ``rollout_update`` x its own +
   (1 - ``rollout_update``) x the generator's; the embedding is copied outright, as in the authors'
   code), then ``d_steps`` discriminator steps on fresh negatives.

The authors' code re-samples 10,000 negatives and trains three epochs over them, five times per
iteration (4,680 discriminator minibatches); here every discriminator minibatch pairs a real batch
with a freshly drawn generated one, the same number of minibatches with no negative seen twice.
Their TensorFlow graph also never rebuilds the rollout network, so its effective update rate is 0
(rolling out with the current generator); ``rollout_update`` = 0 reproduces that, 0.8 is what the
paper and the code state.

``reward: constant`` is a control the paper lacks: every token is rewarded 1, so the update only
raises the likelihood of the generator's own samples, which sharpens it toward its modes and can
lower NLL-oracle without any discriminator (LantaoYu/SeqGAN issue 21 saw exactly that). A SeqGAN
gain over MLE that the control also shows is not the discriminator's doing.

The discriminator's sizes are the paper's (filter widths and counts); its initialisation (embedding
U(-1, 1), convolution and output weights truncated N(0, 0.1) with bias 0.1) and the highway layer
with gate bias 0 are the authors' code's. The generator, shared with seq_mle, is
:mod:`ganlab.models.sequence`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganlab.errors import ParamsError
from ganlab.models.base import DataSpec, Phase, hp
from ganlab.models.losses import d_loss_bce
from ganlab.models.registry import register
from ganlab.models.sequence import (
    LanguageModelConfig,
    LSTMLanguageModel,
    SequenceVariant,
    build_generator,
    check_sequence_data,
)

#: SeqGAN's discriminator: filter widths in tokens, and filters of each width (1,720 in all)
PAPER_FILTER_SIZES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20)
PAPER_FILTER_COUNTS = (100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160)
#: bounds of those lists, generous around the paper's 12 widths of up to 20 tokens and 200 filters: a count of a
#: million would make the discriminator gigabytes (a generator.pt's config builds it too)
MAX_FILTER_WIDTHS, MAX_FILTER_WIDTH, MAX_FILTER_COUNT = 64, 1000, 4096


@torch.no_grad()
def rollouts(model: LSTMLanguageModel, seqs: torch.Tensor, n: int, generator: torch.Generator | None = None
             ) -> torch.Tensor:
    """SeqGAN's Monte-Carlo search, vectorised: for every prefix length t = 1..L-1 of every sequence,
    ``n`` completions of positions t..L-1 drawn from ``model``; shape (L-1, n, B, L).

    The prefixes are read once (the teacher-forced states of :meth:`LSTMLanguageModel.prefix_states`),
    not once per rollout and prefix as the authors' code does. The completions then grow together:
    at position p, the rows of every prefix shorter than p take their next token in one batched
    LSTM step, and the n rows of prefix p join them from the cached state. That is L-1 recurrent
    steps in all, each on at most (L-1) n B rows, instead of n (L-1) passes of L steps.
    """
    b, length = seqs.shape
    states = model.prefix_states(seqs)
    out = seqs.repeat(length - 1, n, 1, 1).view(-1, length)  # row (t-1, r, i): prefix t of sequence i
    h = c = None
    for p in range(1, length):
        new_h, new_c = (s.repeat(1, n, 1) for s in states[p])  # prefix length p: its n rows start here
        if h is None:
            h, c = new_h, new_c
        else:  # the rows of shorter prefixes read the token they drew at p - 1
            _, (h, c) = model.lstm(model.embed(out[: h.shape[1], p - 1]).unsqueeze(1), (h, c))
            h, c = torch.cat([h, new_h], 1), torch.cat([c, new_c], 1)
        out[: h.shape[1], p] = model.draw(h[0], torch.rand(h.shape[1], generator=generator).to(seqs.device))
    return out.view(length - 1, n, b, length)


class Highway(nn.Module):
    """y = g * relu(W_t x) + (1 - g) * x with the gate g = sigmoid(W_g x + b_g) (Srivastava et al. 2015)."""

    def __init__(self, width: int, gate_bias: float = 0.0) -> None:
        super().__init__()
        self.transform, self.gate = nn.Linear(width, width), nn.Linear(width, width)
        nn.init.constant_(self.gate.bias, gate_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = torch.sigmoid(self.gate(x))
        return g * F.relu(self.transform(x)) + (1 - g) * x


class SequenceCNN(nn.Module):
    """SeqGAN's discriminator: embedding, one convolution per filter width spanning the whole embedding,
    ReLU and max-over-time pooling, a highway layer, dropout, one logit (real vs generated).

    Widths longer than the sequences are left out (none are at length 20 or more)."""

    def __init__(self, vocab: int, length: int, embed: int, sizes: tuple[int, ...], counts: tuple[int, ...],
                 dropout: float) -> None:
        super().__init__()
        kept = [(k, n) for k, n in zip(sizes, counts) if k <= length]
        self.embed = nn.Embedding(vocab, embed)
        self.convs = nn.ModuleList(nn.Conv1d(embed, n, k) for k, n in kept)
        features = sum(n for _, n in kept)
        self.highway = Highway(features)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(features, 1)
        with torch.no_grad():  # the authors' initialisation
            nn.init.uniform_(self.embed.weight, -1.0, 1.0)
            for layer in [*self.convs, self.out]:
                nn.init.trunc_normal_(layer.weight, std=0.1, a=-0.2, b=0.2)
                nn.init.constant_(layer.bias, 0.1)

    def features(self, seqs: torch.Tensor) -> torch.Tensor:
        x = self.embed(seqs).transpose(1, 2)  # (B, E, L)
        return torch.cat([F.relu(conv(x)).amax(2) for conv in self.convs], 1)

    def forward(self, seqs: torch.Tensor) -> torch.Tensor:
        """(B, L) tokens -> (B,) logits of 'real'."""
        return self.out(self.dropout(self.highway(self.features(seqs)))).squeeze(1)


@dataclass(frozen=True)
class SeqganConfig(LanguageModelConfig):
    pretrain_steps: int = hp(18720, "MLE steps before the discriminator (the authors' code: 120 epochs of 156 "
                             "batches of 64)", min=0, max=10**9)
    d_pretrain_steps: int = hp(46800, "discriminator steps before the adversarial phase (the authors' code: 50 x 3 "
                               "epochs of 312 minibatches)", min=0, max=10**9)
    g_steps: int = hp(1, "generator updates per adversarial iteration (the paper: 1)", min=1, max=10**6)
    d_steps: int = hp(4680, "discriminator minibatches per adversarial iteration (the authors' code: 5 x 3 epochs "
                      "of 312)", min=1, max=10**6)
    rollouts: int = hp(16, "Monte-Carlo completions per prefix (the paper: 16)", min=1, max=4096)
    rollout_update: float = hp(0.8, "delayed rollout copy: weight of its old values in each update (the paper: "
                               "0.8; 0 = roll out with the current generator, the authors' code in effect)",
                               min=0.0, max=1.0)
    reward: str = hp("discriminator", "discriminator = the paper; constant = every token rewarded 1, a control "
                     "without the discriminator", choices=("discriminator", "constant"))
    d_embed: int = hp(64, "discriminator token embedding size (the authors' code: 64)", min=1, max=4096)
    d_filter_sizes: tuple[int, ...] = hp(PAPER_FILTER_SIZES, "discriminator filter widths in tokens (the paper's)")
    d_filter_counts: tuple[int, ...] = hp(PAPER_FILTER_COUNTS, "filters of each width (the paper's, 1,720 in all)")
    d_dropout: float = hp(0.25, "discriminator dropout (the authors' code: keep 0.75), off when rewarding",
                          min=0.0, max=0.95)
    d_l2: float = hp(0.2, "L2 weight on the discriminator's output layer (the authors' code: 0.2)", min=0.0, max=1e6)
    d_lr: float = hp(1e-4, "discriminator Adam step (the authors' code: 1e-4)", min=1e-8, max=1.0)
    eval_iterations: int = hp(5, "adversarial iterations between the monitor's scores (NLL-oracle); the MLE "
                              "phase is scored every train.eval_every steps and at its end (the authors' code: 5)",
                              min=1, max=10**9)

    def __post_init__(self) -> None:
        sizes, counts = self.d_filter_sizes, self.d_filter_counts
        if len(sizes) != len(counts) or not 1 <= len(sizes) <= MAX_FILTER_WIDTHS or min(sizes) < 1 \
                or min(counts) < 1 or max(sizes) > MAX_FILTER_WIDTH or max(counts) > MAX_FILTER_COUNT:
            raise ParamsError(f"d_filter_sizes {list(sizes)} and d_filter_counts {list(counts)} must be equally "
                              f"long lists of 1 to {MAX_FILTER_WIDTHS} positive integers: widths up to "
                              f"{MAX_FILTER_WIDTH}, counts up to {MAX_FILTER_COUNT}")


@register("seqgan")
class Seqgan(SequenceVariant):
    """SeqGAN: policy-gradient LSTM generator, CNN discriminator, Monte-Carlo rollout rewards (Yu et al. 2017)."""

    Config = SeqganConfig

    def build(self) -> dict[str, torch.nn.Module]:
        c = self.config
        check_sequence_data(self.name, self.data)
        if min(c.d_filter_sizes) > self.length:
            raise ParamsError(f"d_filter_sizes {list(c.d_filter_sizes)}: every width exceeds the sequence length "
                              f"{self.length}")
        generator = build_generator(c, self.data)
        rollout = build_generator(c, self.data).requires_grad_(False)
        rollout.load_state_dict(generator.state_dict())
        discriminator = SequenceCNN(self.vocab, self.length, c.d_embed, c.d_filter_sizes, c.d_filter_counts,
                                    c.d_dropout)
        return {"generator": generator, "rollout": rollout, "discriminator": discriminator}

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        return {  # MLE and policy gradient keep separate Adam moments, as in the authors' code
            "generator": torch.optim.Adam(self.nets["generator"].parameters(), lr=c.lr),
            "policy": torch.optim.Adam(self.nets["generator"].parameters(), lr=c.lr),
            "discriminator": torch.optim.Adam(self.nets["discriminator"].parameters(), lr=c.d_lr),
        }

    # ------------------------------------------------------------------ the phases

    @classmethod
    def phases(cls, config: SeqganConfig, data: DataSpec | None = None) -> list[Phase]:
        """MLE, discriminator pre-training, then adversarial iterations for the rest of the steps."""
        return [Phase("mle", config.pretrain_steps),
                Phase("discriminator", config.d_pretrain_steps, {"d_minibatches": 1}),
                Phase("adversarial", None, {"g_updates": config.g_steps, "d_minibatches": config.d_steps,
                                            "rollouts": config.rollouts})]

    @property
    def adversarial_start(self) -> int:
        return self.config.pretrain_steps + self.config.d_pretrain_steps

    def phase(self, step: int) -> str:
        if step < self.config.pretrain_steps:
            return "mle"
        return "discriminator" if step < self.adversarial_start else "adversarial"

    def eval_due(self, step: int, every: int) -> bool:
        """Every ``every`` MLE steps, at the end of MLE pre-training, and every ``eval_iterations``
        adversarial iterations (``step`` counts the steps done)."""
        start, c = self.adversarial_start, self.config
        if step <= c.pretrain_steps:
            return step == c.pretrain_steps or super().eval_due(step, every)
        return step > start and (step - start) % c.eval_iterations == 0

    def real_batches_per_step(self, step: int) -> int:
        return self.config.d_steps if self.phase(step) == "adversarial" else 1

    def batches_before(self, step: int) -> int:
        start = self.adversarial_start
        return min(step, start) + max(0, step - start) * self.config.d_steps

    def step(self, x: torch.Tensor, y: torch.Tensor | None, step: int) -> dict[str, float]:
        phase = self.phase(step)
        if phase == "mle":
            loss = self.mle_loss(x)
            self.update("generator", loss, self.config.clip)
            return {"nll": loss.item()}
        if phase == "discriminator":
            return self.discriminator_step(x)
        if step == self.adversarial_start:  # the delayed copy starts from the pre-trained generator
            self.nets["rollout"].load_state_dict(self.nets["generator"].state_dict())
        batch = len(x) // self.config.d_steps
        losses: dict[str, float] = {}
        for _ in range(self.config.g_steps):
            losses = self.policy_step(batch)
            self.move_rollout()
        if self.config.reward == "discriminator":
            d_losses = [self.discriminator_step(part) for part in x.split(batch)]
            losses.update({k: sum(d[k] for d in d_losses) / len(d_losses) for k in d_losses[0]})
        return losses

    # ------------------------------------------------------------------ updates

    def discriminator_step(self, real: torch.Tensor) -> dict[str, float]:
        with torch.no_grad():
            fake = self.nets["generator"].sample(self.noise(len(real)))
        d = self.nets["discriminator"]
        real_logits, fake_logits = d(real), d(fake)
        out = d.out
        # the mean cross-entropy over the real and generated halves, plus L2 on the output layer (1/2 sum of squares)
        loss = 0.5 * d_loss_bce(real_logits, fake_logits) + self.config.d_l2 * 0.5 * (
            out.weight.pow(2).sum() + out.bias.pow(2).sum())
        self.update("discriminator", loss)
        return {"d_loss": loss.item(), "d_real": torch.sigmoid(real_logits).mean().item(),
                "d_fake": torch.sigmoid(fake_logits).mean().item()}

    @torch.no_grad()
    def rewards(self, seqs: torch.Tensor) -> torch.Tensor:
        """Q (B, L): the reward of each token of ``seqs``, treated as a constant by the update."""
        b, length = seqs.shape
        if self.config.reward == "constant":
            return torch.ones(b, length, device=seqs.device)
        d = self.nets["discriminator"]
        was_training = d.training
        d.eval()  # no dropout while rewarding, as in the authors' code
        try:
            done = rollouts(self.nets["rollout"], seqs, self.config.rollouts).view(-1, length)
            scores = torch.cat([torch.sigmoid(d(part)) for part in done.split(1024)])  # 1.7x faster a sequence than 8192
            q = scores.view(length - 1, self.config.rollouts, b).mean(1).t()  # (B, L-1)
            return torch.cat([q, torch.sigmoid(d(seqs)).unsqueeze(1)], 1)
        finally:
            d.train(was_training)

    def policy_loss(self, seqs: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        """-sum_t Q_t log G(y_t | y_<t), summed over the batch as in the authors' code."""
        return -(self.nets["generator"].log_probs(seqs) * q).sum()

    def policy_step(self, batch: int) -> dict[str, float]:
        with torch.no_grad():
            seqs = self.nets["generator"].sample(self.noise(batch))
        q = self.rewards(seqs)
        loss = self.policy_loss(seqs, q)
        self.update("policy", loss, self.config.clip)
        return {"pg_loss": loss.item() / seqs.numel(), "reward": q.mean().item()}

    @torch.no_grad()
    def move_rollout(self) -> None:
        rate = self.config.rollout_update
        g = dict(self.nets["generator"].named_parameters())
        for name, p in self.nets["rollout"].named_parameters():
            if name.startswith("embed."):
                p.copy_(g[name])
            else:
                p.mul_(rate).add_(g[name], alpha=1 - rate)
