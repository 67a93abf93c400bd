"""Scores of sequence generators, taken while they train (the trainer's monitors) and at the end.

- :class:`NllOracle`: SeqGAN's NLL-oracle, the oracle LSTM's mean negative log-likelihood per token
  of sequences the generator samples (nats; lower is better; the oracle's own samples score its
  entropy rate, the floor). It rewards a generator that says only its likeliest sentences, so it
  comes with NLL-gen, the generator's negative log-likelihood of fresh oracle samples (how much of
  the oracle's distribution it covers; Guo et al.'s LeakGAN and later papers report both): a
  generator that only sharpens lowers the first and raises the second.
- :class:`TextQuality`: Texygen's BLEU-2..5 of generated sentences against the test sentences
  (quality) and Self-BLEU-2..5 among them (lower = more diverse), see :mod:`ganlab.eval.bleu`.

Both draw their samples from the same noise every time (a fixed seed), so a curve over training
compares generators, not draws.
"""

from __future__ import annotations

from typing import Any

import torch

from ganlab.data.oracle import OracleLSTM, nll_oracle, sample_in_chunks
from ganlab.data.text import tokenize
from ganlab.eval.bleu import bleu, self_bleu
from ganlab.models.sequence import mean_token_nll

ORDERS = (2, 3, 4, 5)


@torch.no_grad()
def generate(variant: Any, n: int, seed: int, chunk: int = 1000) -> torch.Tensor:
    """n sequences of ``variant`` from noise drawn with ``seed``, (n, L) int64 on the CPU."""
    g = torch.Generator().manual_seed(seed)
    return torch.cat([variant.sample(variant.noise(min(chunk, n - i), g)).cpu() for i in range(0, n, chunk)])


#: seed of the oracle samples NLL-gen scores: apart from the training set's (oracle.seed + 1)
HELD_OUT_SEED = 2**31 - 7


class NllOracle:
    """NLL-oracle of ``n`` generated sequences (SeqGAN: 10,000; its code: 9,984), and NLL-gen of ``n``
    fresh oracle samples."""

    def __init__(self, oracle: OracleLSTM, info: dict[str, Any], n: int = 10_000, seed: int = 0) -> None:
        self.oracle, self.info, self.n, self.seed = oracle, info, n, seed
        self.held_out = sample_in_chunks(oracle, n, torch.Generator().manual_seed(HELD_OUT_SEED))

    def __call__(self, variant: Any) -> dict[str, float]:
        nll_gen = mean_token_nll(variant.nll, self.held_out, variant.device)
        return {"nll_oracle": nll_oracle(self.oracle, generate(variant, self.n, self.seed)), "nll_gen": nll_gen}

    def protocol(self) -> dict[str, Any]:
        return {
            "nll_oracle": "the oracle LSTM's mean negative log-likelihood per token (nats) of generated sequences",
            "nll_gen": "the generator's mean negative log-likelihood per token (nats) of fresh oracle samples "
                       f"(seed {HELD_OUT_SEED}, not the training set)",
            "n_generated": self.n, "n_oracle_samples": self.n,
            "sampling": "temperature 1, the same noise (seed) at every evaluation",
            "noise_seed": self.seed, "oracle_sha256": self.info.get("oracle_sha256"),
            "oracle_entropy_rate": self.info.get("oracle_nll_of_its_own_samples"),
        }


class TextQuality:
    """BLEU-2..5 of ``n`` generated sentences against every test sentence, and their Self-BLEU-2..5."""

    def __init__(self, references: list[str], n: int = 10_000, seed: int = 0) -> None:
        self.references = [s for s in map(tokenize, references) if s]
        self.n, self.seed = n, seed

    def __call__(self, variant: Any) -> dict[str, float]:
        sentences = [s.split() for s in variant.text(generate(variant, self.n, self.seed))]
        scores = {f"bleu{n}": v for n, v in bleu(sentences, self.references, ORDERS).items()}
        scores.update({f"self_bleu{n}": v for n, v in self_bleu(sentences, ORDERS).items()})
        scores["mean_words"] = sum(map(len, sentences)) / len(sentences)
        return scores

    def protocol(self) -> dict[str, Any]:
        return {
            "bleu": "mean sentence BLEU-n (uniform weights, NLTK smoothing method 1) of each generated sentence "
                    "against all test sentences (Texygen's full, not 'fast', mode)",
            "self_bleu": "the same of each generated sentence against all other generated ones (leave-one-out)",
            "n_generated": self.n, "n_references": len(self.references), "noise_seed": self.seed,
            "sampling": "temperature 1, cut at the first end code",
        }
