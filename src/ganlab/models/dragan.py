"""DRAGAN: the GAN's losses plus a gradient penalty on the discriminator in a neighbourhood of the real data.

Kodali, Abernethy, Hays & Kira, "On Convergence and Stability of GANs" (arXiv:1705.07215, 2017). Mode
collapse goes with sharp discriminator gradients around the real points, so the discriminator's loss
gets lambda * E[(||grad_x D(x_p)|| - k)^2] at points x_p near real data x only (WGAN-GP penalises on
lines between real and fake samples instead). The paper writes x_p = x + delta, delta ~ N(0, cI), with
lambda = 10 and k = 1. This file follows the authors' public reference code instead
(github.com/kodalinaveen3/DRAGAN, DRAGAN.ipynb, on MNIST): x_p = x + 0.5 * std(x) * u with u ~ U[0, 1)
drawn per pixel and std the whole batch's, then the penalty at x + alpha * (x_p - x), alpha ~ U[0, 1] per
sample, with k = 1 and lambda = 10, Adam lr 1e-4 and betas (0.5, 0.9), one discriminator step per
generator step, batch 128 (``train.batch_size``, the trainer's). Its perturbation is one-sided (u >= 0) and
scaled to the data, where the paper's Gaussian is symmetric with a variance c to tune; kept as the code has it.

The networks are GAN's (``arch``: the MNIST MLP, the 1-D affine toy, and whatever GAN builds), not
DCGAN's: the authors' MNIST networks are MLPs, and the penalty is a per-sample gradient that batch norm
(in the hidden layers of DCGAN's discriminator) would mix across the batch, which is why WGAN-GP's
critic drops it. The discriminator's dropout is off by default for the same reason: a dropout mask
changes the gradient norm the penalty measures, and the authors' discriminator has none.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ganlab.models.base import hp
from ganlab.models.gan import GAN, GanConfig
from ganlab.models.losses import gradient_penalty
from ganlab.models.registry import register


@dataclass(frozen=True)
class DraganConfig(GanConfig):
    dropout: float = hp(0.0, "none: the authors' discriminator has none, and a mask changes the penalised gradient",
                        min=0.0, max=0.95)
    lr: float = hp(1e-4, "the authors' Adam step", min=1e-8, max=1.0)
    beta1: float = hp(0.5, "the authors' Adam betas (0.5, 0.9)", min=0.0, max=0.999)
    beta2: float = hp(0.9, "the authors' Adam betas (0.5, 0.9)", min=0.0, max=0.9999)
    gp_weight: float = hp(10.0, "lambda, the penalty's weight (the paper's 10); 0 = the plain GAN", min=0.0, max=1e4)
    perturb: float = hp(0.5, "x_p = x + perturb * std(x) * U[0, 1): the authors' code (the paper: delta ~ N(0, cI))",
                        min=0.0, max=100.0)

    #: the penalty is centred on the step's whole real batch, which k discriminator steps would split
    not_honoured = {"d_steps": "DRAGAN's penalty is taken around the step's real batch, one discriminator step"}


@register("dragan")
class DRAGAN(GAN):
    """DRAGAN: GAN with a gradient penalty (lambda 10) around the real data (Kodali et al., 2017)."""

    Config = DraganConfig

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        return {role: torch.optim.Adam(self.nets[role].parameters(), lr=c.lr, betas=(c.beta1, c.beta2))
                for role in ("generator", "discriminator")}

    def perturbed(self, x: torch.Tensor) -> torch.Tensor:
        """x_p = x + perturb * std(x) * u, u ~ U[0, 1) per value, std over the whole batch (numpy's, as the
        authors' code takes it): points beside the real data, never the fakes."""
        return x + self.config.perturb * x.std(correction=0) * torch.rand_like(x)

    def penalty(self, x: torch.Tensor) -> torch.Tensor:
        """lambda * E[(||grad D(x_hat)|| - 1)^2] at x_hat = x + alpha * (x_p - x), alpha ~ U[0, 1] per sample:
        WGAN-GP's penalty on the line from the real batch to its perturbation (alpha * x_p + (1 - alpha) * x)."""
        return self.config.gp_weight * gradient_penalty(self.d_logits, self.perturbed(x), x)

    def step(self, x: torch.Tensor, y: torch.Tensor | None, step: int) -> dict[str, float]:
        self._real = x  # GAN's step hands d_loss the logits only; the penalty is centred on this batch
        try:
            return super().step(x, y, step)
        finally:
            del self._real

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        loss = super().d_loss(real_logits, fake_logits)
        if self.config.gp_weight == 0:  # no penalty and no draws for it: the plain GAN step, exactly
            return loss
        return loss + self.penalty(self._real)
