"""SAGAN: self-attention in generator and discriminator, spectral norm in both, hinge loss, TTUR.

Zhang, Goodfellow, Metaxas & Odena, "Self-Attention Generative Adversarial Networks", ICML 2019.
A self-attention block lets every position of a feature map draw on every other: with 1x1
convolutions f, g (C/8 channels) and h, attention beta = softmax(f(x)^T g(x)) over positions,
o = h(x) beta, and the block outputs x + gamma * o with a learned gamma that starts at 0, so the
network first relies on local convolutions and learns to use the non-local evidence. Spectral
normalization is applied to every layer of both G and D (the paper found it steadies G too),
the loss is the hinge loss, and the two networks learn at different rates (TTUR: D 4e-4,
G 1e-4, Adam betas (0, 0.9)) with one D step per G step.

The networks are DCGAN's shape (strided convolutions, batch norm in G) with the attention
block at the generator's last hidden resolution and the discriminator's first.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganlab.models.base import hp
from ganlab.models.blocks import upsampling_plan
from ganlab.models.dcgan import DCGAN
from ganlab.models.registry import register

sn = nn.utils.parametrizations.spectral_norm


@dataclass(frozen=True)
class SaganConfig:
    z_dim: int = hp(128, "latent size (the paper: 128)", min=1, max=4096)
    width: int = hp(64, "feature maps of the highest-resolution layer; doubled at each downsampling", min=8,
                    max=1024)
    lr_g: float = hp(1e-4, "TTUR: the generator's Adam step (the paper: 1e-4)", min=1e-8, max=1.0)
    lr_d: float = hp(4e-4, "TTUR: the discriminator's Adam step (the paper: 4e-4)", min=1e-8, max=1.0)
    beta1: float = hp(0.0, "the paper's Adam betas (0, 0.9)", min=0.0, max=0.999)
    beta2: float = hp(0.9, "the paper's Adam betas (0, 0.9)", min=0.0, max=0.9999)
    attention: bool = hp(True, "the self-attention blocks; false: the same networks without them (the paper's "
                               "Table 1 ablation, claim sagan-attention)")


class SelfAttention(nn.Module):
    """x + gamma * o, o = h(x) softmax(f(x)^T g(x)); f, g to C/8 channels; gamma starts at 0."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        inner = max(1, channels // 8)
        self.f = sn(nn.Conv2d(channels, inner, 1, bias=False))
        self.g = sn(nn.Conv2d(channels, inner, 1, bias=False))
        self.h = sn(nn.Conv2d(channels, channels, 1, bias=False))
        self.gamma = nn.Parameter(torch.zeros(()))
        self.last_attention: torch.Tensor | None = None  # (B, N, N), kept for inspection and tests

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, hh, ww = x.shape
        f, g, h = self.f(x).flatten(2), self.g(x).flatten(2), self.h(x).flatten(2)  # (B, C', N), N = H W
        beta = torch.softmax(f.transpose(1, 2) @ g, dim=1)  # beta[:, i, j]: how much output j attends to i
        self.last_attention = beta.detach()
        o = (h @ beta).view(b, c, hh, ww)
        return x + self.gamma * o


def _attention(channels: int, on: bool) -> list[nn.Module]:
    return [SelfAttention(channels)] if on else []


def sagan_generator(z_dim: int, channels: int, size: int, width: int, attention: bool = True) -> nn.Sequential:
    start, steps = upsampling_plan(size)
    c = width * 2 ** (steps - 1)
    layers: list[nn.Module] = [sn(nn.ConvTranspose2d(z_dim, c, start, 1, 0)), nn.BatchNorm2d(c), nn.ReLU(True)]
    for _ in range(steps - 1):
        layers += [sn(nn.ConvTranspose2d(c, c // 2, 4, 2, 1)), nn.BatchNorm2d(c // 2), nn.ReLU(True)]
        c //= 2
    layers += [*_attention(c, attention), sn(nn.ConvTranspose2d(c, channels, 4, 2, 1)), nn.Tanh()]
    return nn.Sequential(nn.Unflatten(1, (z_dim, 1, 1)), *layers)


def sagan_discriminator(channels: int, size: int, width: int, attention: bool = True) -> nn.Sequential:
    start, steps = upsampling_plan(size)
    layers: list[nn.Module] = [sn(nn.Conv2d(channels, width, 4, 2, 1)), nn.LeakyReLU(0.1, True),
                               *_attention(width, attention)]
    c = width
    for _ in range(steps - 1):
        layers += [sn(nn.Conv2d(c, 2 * c, 4, 2, 1)), nn.LeakyReLU(0.1, True)]
        c *= 2
    layers += [sn(nn.Conv2d(c, 1, start, 1, 0)), nn.Flatten()]
    return nn.Sequential(*layers)


@register("sagan")
class SAGAN(DCGAN):
    """SAGAN: self-attention and spectral norm in G and D, hinge loss, two time-scale learning rates (Zhang et al., 2019)."""

    Config = SaganConfig

    def build(self) -> dict[str, nn.Module]:
        c, (channels, size, _) = self.config, self.data.shape
        return {
            "generator": sagan_generator(c.z_dim, channels, size, c.width, c.attention),
            "discriminator": sagan_discriminator(channels, size, c.width, c.attention),
        }

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        betas = (c.beta1, c.beta2)
        return {
            "generator": torch.optim.Adam(self.nets["generator"].parameters(), lr=c.lr_g, betas=betas),
            "discriminator": torch.optim.Adam(self.nets["discriminator"].parameters(), lr=c.lr_d, betas=betas),
        }

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()

    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return -fake_logits.mean()

    def step(self, x: torch.Tensor, y: torch.Tensor | None, step: int) -> dict[str, float]:
        losses = super().step(x, y, step)
        attention = [m for m in self.nets.modules() if isinstance(m, SelfAttention)]
        losses.update({f"gamma_{role}": m.gamma.item() for role, m in zip(("g", "d"), attention)})
        return losses
