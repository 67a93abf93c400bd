"""WGAN-GP: the Wasserstein critic kept Lipschitz by a gradient penalty instead of clipping.

Gulrajani, Ahmed, Arjovsky, Dumoulin & Courville, "Improved Training of Wasserstein GANs",
NeurIPS 2017 (Algorithm 1): penalty lambda * (||grad f(x_hat)|| - 1)^2 on random interpolates
x_hat between real and fake samples, lambda = 10, 5 critic iterations, Adam with lr 1e-4 and
betas (0, 0.9); no batch norm in the critic, since the penalty is per sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ganlab.models.base import hp
from ganlab.models.blocks import dcgan_discriminator, dcgan_generator
from ganlab.models.losses import gradient_penalty
from ganlab.models.registry import register
from ganlab.models.wgan import WGAN, WganConfig, toy_networks


@dataclass(frozen=True)
class WganGpConfig(WganConfig):
    lr: float = hp(1e-4, "the paper's Adam step", min=1e-8, max=1.0)
    beta1: float = hp(0.0, "the paper's Adam betas (0, 0.9)", min=0.0, max=0.999)
    beta2: float = hp(0.9, "the paper's Adam betas (0, 0.9)", min=0.0, max=0.9999)
    gp_weight: float = hp(10.0, "lambda, the gradient penalty's weight", min=0.0, max=1e4)
    warmup_critic: int = hp(5, "no critic warm-up, as the paper's Algorithm 1 (and the authors' code)", min=1, max=1000)


@register("wgan_gp")
class WGANGP(WGAN):
    """WGAN-GP: Wasserstein critic with a gradient penalty (lambda 10), Adam (Gulrajani et al., 2017)."""

    Config = WganGpConfig

    def build(self) -> dict[str, nn.Module]:
        c, (channels, size, _) = self.config, self.data.shape
        if c.arch == "toy":  # no batch norm there either: the penalty is per sample
            return toy_networks(c.z_dim, self.data.shape, c.width)
        return {
            "generator": dcgan_generator(c.z_dim, channels, size, c.width, norm=c.g_norm),
            "discriminator": dcgan_discriminator(channels, size, c.width, norm="none"),
        }

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        return {role: torch.optim.Adam(self.nets[role].parameters(), lr=c.lr, betas=(c.beta1, c.beta2))
                for role in ("generator", "discriminator")}

    def critic_penalty(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return self.config.gp_weight * gradient_penalty(self.nets["discriminator"], real, fake)

    def after_critic_step(self) -> None:
        pass  # no clipping: the penalty does its work
