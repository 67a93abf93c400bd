"""MaliGAN: maximum-likelihood augmented GAN, the generator pulled toward p_G reweighted by D/(1 - D).

Che, Li, Zhang, Hjelm, Li, Song & Bengio, "Maximum-Likelihood Augmented Discrete Generative
Adversarial Networks", arXiv 1702.07983, 2017. For an optimal discriminator D/(1 - D) = p_data / p_G,
so reweighting the generator's own samples by it gives an estimate of the data distribution, and
the generator maximises the likelihood of its samples under those weights. Over a batch of m
samples the weights are normalised, w_i = r_i / sum_j r_j with r = D/(1 - D) = exp(logit), and the
baseline 1/m is subtracted (the mean of the normalised weights, as the public implementations
have it): samples the discriminator finds more real than average are made more likely, the rest
less. One scalar per sequence weighs every token's log-probability (the paper's MaliGAN-basic; the
full model's Monte-Carlo prefixes and mixed MLE are not implemented).

Everything else, the generator, the discriminator (SeqGAN's CNN), the three phases and their
settings, is :mod:`ganlab.models.seqgan`'s, so the two differ only in the reward.
"""

from __future__ import annotations

import torch

from ganlab.models.base import DataSpec, Phase
from ganlab.models.registry import register
from ganlab.models.seqgan import Seqgan, SeqganConfig


@register("maligan")
class Maligan(Seqgan):
    """MaliGAN-basic: normalised importance weights D/(1-D) as the sequence reward (Che et al. 2017)."""

    @classmethod
    def phases(cls, config: SeqganConfig, data: DataSpec | None = None) -> list[Phase]:
        """SeqGAN's phases; its reward needs no rollouts."""
        *before, adversarial = super().phases(config, data)
        per_step = {k: v for k, v in adversarial.per_step.items() if k != "rollouts"}
        return [*before, Phase(adversarial.name, adversarial.steps, per_step)]

    @torch.no_grad()
    def rewards(self, seqs: torch.Tensor) -> torch.Tensor:
        if self.config.reward == "constant":
            return super().rewards(seqs)
        d = self.nets["discriminator"]
        was_training = d.training
        d.eval()
        try:
            weights = torch.softmax(d(seqs).float(), 0)  # exp(logit) = D / (1 - D), normalised over the batch
        finally:
            d.train(was_training)
        advantage = weights - 1.0 / len(seqs)
        return advantage.unsqueeze(1).expand_as(seqs)
