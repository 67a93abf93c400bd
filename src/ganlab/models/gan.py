"""GAN: multilayer-perceptron generator and discriminator, non-saturating generator loss.

Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014. The paper's maxout
discriminator is replaced by LeakyReLU layers with dropout, the usual modern reading.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ganlab.models.base import Variant
from ganlab.models.losses import d_loss_bce, g_loss_nonsaturating
from ganlab.models.registry import register


@dataclass(frozen=True)
class GanConfig:
    z_dim: int = 100  # latent size
    hidden: int = 512  # units per hidden layer
    dropout: float = 0.3  # discriminator dropout
    lr: float = 2e-4  # Adam step
    beta1: float = 0.5  # Adam beta1, as for DCGAN: momentum 0.9 makes GAN training oscillate


@register("gan")
class GAN(Variant):
    """Original GAN: MLP generator and discriminator, non-saturating generator loss (Goodfellow et al., 2014)."""

    Config = GanConfig

    def build(self) -> dict[str, nn.Module]:
        c, h = self.config, self.config.hidden
        pixels = math.prod(self.data.shape)
        generator = nn.Sequential(
            nn.Linear(c.z_dim, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, pixels), nn.Tanh()
        )
        discriminator = nn.Sequential(
            nn.Flatten(),
            nn.Linear(pixels, h), nn.LeakyReLU(0.2), nn.Dropout(c.dropout),
            nn.Linear(h, h), nn.LeakyReLU(0.2), nn.Dropout(c.dropout),
            nn.Linear(h, 1),
        )
        return {"generator": generator, "discriminator": discriminator}

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        return {
            role: torch.optim.Adam(self.nets[role].parameters(), lr=c.lr, betas=(c.beta1, 0.999))
            for role in ("generator", "discriminator")
        }

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.config.z_dim, generator=generator).to(self.device)

    def sample(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.nets["generator"](z).view(len(z), *self.data.shape)

    # The losses on discriminator logits; LSGAN and SNGAN change only these.
    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return d_loss_bce(real_logits, fake_logits)

    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return g_loss_nonsaturating(fake_logits)

    def step(self, x: torch.Tensor, y: torch.Tensor | None, step: int) -> dict[str, float]:
        d = self.nets["discriminator"]
        fake = self.sample(self.noise(len(x)))
        loss_d = self.d_loss(d(x), d(fake.detach()))
        self.optimizers["discriminator"].zero_grad(set_to_none=True)
        loss_d.backward()
        self.optimizers["discriminator"].step()
        loss_g = self.g_loss(d(fake))
        self.optimizers["generator"].zero_grad(set_to_none=True)
        loss_g.backward()
        self.optimizers["generator"].step()
        return {"loss_d": loss_d.item(), "loss_g": loss_g.item()}
