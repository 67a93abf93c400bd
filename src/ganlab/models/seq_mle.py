"""MLE: an LSTM language model trained by teacher forcing, the baseline of every sequence GAN.

The generator of SeqGAN (Yu et al., AAAI 2017) trained on maximum likelihood alone: each position
predicts the next token from the true prefix, and the loss is the mean negative log-likelihood per
token. It is also SeqGAN's and MaliGAN's pre-training, so the comparison the paper makes, "did the
adversarial phase help?", is this run against theirs at the same number of MLE steps and beyond.
"""

from __future__ import annotations

import torch

from ganlab.models.base import DataSpec, Phase
from ganlab.models.registry import register
from ganlab.models.sequence import LanguageModelConfig, SequenceVariant, build_generator, check_sequence_data


@register("seq_mle")
class SeqMle(SequenceVariant):
    """Teacher-forced maximum-likelihood LSTM, the sequence-GAN baseline (Yu et al. 2017)."""

    Config = LanguageModelConfig

    @classmethod
    def phases(cls, config: LanguageModelConfig, data: DataSpec | None = None) -> list[Phase]:
        """MLE throughout: the phase that SeqGAN's pre-training shares with it."""
        return [Phase("mle", None)]

    def build(self) -> dict[str, torch.nn.Module]:
        check_sequence_data(self.name, self.data)
        return {"generator": build_generator(self.config, self.data)}

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"generator": torch.optim.Adam(self.nets["generator"].parameters(), lr=self.config.lr)}

    def step(self, x: torch.Tensor, y: torch.Tensor | None, step: int) -> dict[str, float]:
        loss = self.mle_loss(x)
        self.update("generator", loss, self.config.clip)
        return {"nll": loss.item()}
