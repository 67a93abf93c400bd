"""BEGAN: an auto-encoder discriminator held in equilibrium with the generator by a control variable.

Berthelot, Schumm & Metz, "BEGAN: Boundary Equilibrium Generative Adversarial Networks", 2017.
D is an auto-encoder and L(v) = |v - D(v)| its L1 reconstruction loss. Rather than telling
real from fake, D matches the distributions of the reconstruction losses:

    L_D = L(x) - k_t L(G(z))      L_G = L(G(z))
    k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z))), 0, 1)

gamma = E[L(G(z))] / E[L(x)] is the diversity ratio the equilibrium aims at (lower: sharper,
less varied); k_t is proportional control that keeps it there. The convergence measure
M_global = L(x) + |gamma L(x) - L(G(z))| falls as training converges, and is logged every step.
Networks as the paper's: 3x3 convolutions with ELUs, nearest-neighbour upsampling, downsampling
by strided convolution, an h-dimensional embedding between encoder and decoder, and a generator
with the decoder's architecture. Adam lr 1e-4, k_0 = 0, lambda_k = 0.001, gamma 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ganlab.models.base import Variant, hp
from ganlab.models.blocks import interleave_rows, upsampling_plan
from ganlab.models.registry import register


@dataclass(frozen=True)
class BeganConfig:
    z_dim: int = hp(64, "N_z, the latent size (the paper: 64)", min=1, max=4096)
    hidden: int = hp(64, "N_h, the auto-encoder's embedding size (the paper: 64)", min=1, max=4096)
    width: int = hp(64, "n, the convolution filters (the paper: 64 or 128); the encoder grows it per scale",
                    min=1, max=1024)
    gamma: float = hp(0.5, "diversity ratio E[L(G(z))] / E[L(x)] the equilibrium aims at (the paper: 0.3 to 0.7)",
                      min=0.0, max=1.0)
    lambda_k: float = hp(0.001, "proportional gain of the k_t control (the paper: 0.001)", min=0.0, max=1.0)
    lr: float = hp(1e-4, "the paper's Adam step", min=1e-8, max=1.0)
    beta1: float = hp(0.5, "Adam beta1", min=0.0, max=0.999)


def conv_elu(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, stride, 1), nn.ELU(inplace=True)]


class Decoder(nn.Module):
    """h -> image: a linear map to (n, s, s), then per scale two 3x3 conv+ELU and a nearest x2 upsampling."""

    def __init__(self, hidden: int, channels: int, size: int, width: int, tanh: bool) -> None:
        super().__init__()
        self.start, steps = upsampling_plan(size)
        self.width = width
        self.fc = nn.Linear(hidden, width * self.start**2)
        layers: list[nn.Module] = []
        for _ in range(steps):
            layers += conv_elu(width, width) + conv_elu(width, width) + [nn.Upsample(scale_factor=2, mode="nearest")]
        layers += conv_elu(width, width) + conv_elu(width, width) + [nn.Conv2d(width, channels, 3, 1, 1)]
        layers += [nn.Tanh()] if tanh else []
        self.net = nn.Sequential(*layers)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(self.fc(h).view(len(h), self.width, self.start, self.start))


class Encoder(nn.Module):
    """image -> h: per scale two 3x3 conv+ELU then a strided conv adding n filters; a linear map to h."""

    def __init__(self, hidden: int, channels: int, size: int, width: int) -> None:
        super().__init__()
        start, steps = upsampling_plan(size)
        layers = conv_elu(channels, width)
        c = width
        for i in range(steps):
            layers += conv_elu(c, c) + conv_elu(c, width * (i + 2), stride=2)
            c = width * (i + 2)
        layers += conv_elu(c, c) + conv_elu(c, c)
        self.net = nn.Sequential(*layers, nn.Flatten())
        self.fc = nn.Linear(c * start**2, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.net(x))


class AutoEncoderD(nn.Module):
    def __init__(self, hidden: int, channels: int, size: int, width: int) -> None:
        super().__init__()
        self.encoder = Encoder(hidden, channels, size, width)
        self.decoder = Decoder(hidden, channels, size, width, tanh=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def glorot_init(m: nn.Module) -> None:
    """Glorot-uniform weights and zero biases (TensorFlow's default, which BEGAN was written against).
    PyTorch's default keeps 1/3 of the variance per layer: through the ~20 unnormalised layers of the
    auto-encoder the signal fades and D learns to reconstruct nothing but the mean image (measured: L1
    0.23 after 300 steps at lr 5e-4, against 0.14 with this init)."""
    if isinstance(m, (nn.Conv2d, nn.Linear)):
        nn.init.xavier_uniform_(m.weight)
        nn.init.zeros_(m.bias)


def l1_per_image(ae: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """L(v) = |v - D(v)|, the mean absolute reconstruction error of each image."""
    return (ae(x) - x).abs().flatten(1).mean(1)


@register("began")
class BEGAN(Variant):
    """BEGAN: auto-encoder discriminator, equilibrium control k_t, convergence measure M_global (Berthelot et al., 2017)."""

    Config = BeganConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.k = 0.0  # k_0 = 0: D first learns to reconstruct, then to tell generated images apart

    def build(self) -> dict[str, nn.Module]:
        c, (channels, size, _) = self.config, self.data.shape
        nets = {
            "generator": Decoder(c.z_dim, channels, size, c.width, tanh=True),
            "discriminator": AutoEncoderD(c.hidden, channels, size, c.width),
        }
        for net in nets.values():
            net.apply(glorot_init)
        return nets

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        return {role: torch.optim.Adam(self.nets[role].parameters(), lr=c.lr, betas=(c.beta1, 0.999))
                for role in ("generator", "discriminator")}

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        # the paper's z is uniform in [-1, 1]
        return (torch.rand(n, self.config.z_dim, generator=generator) * 2 - 1).to(self.device)

    def sample(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.nets["generator"](z)

    def step(self, x: torch.Tensor, y: torch.Tensor | None, step: int) -> dict[str, float]:
        c, d = self.config, self.nets["discriminator"]
        fake = self.sample(self.noise(len(x)))
        loss_real = l1_per_image(d, x).mean()
        loss_fake = l1_per_image(d, fake.detach()).mean()
        self.update("discriminator", loss_real - self.k * loss_fake)
        loss_g = l1_per_image(d, fake).mean()
        self.update("generator", loss_g)
        real, gen = loss_real.item(), loss_g.item()
        balance = c.gamma * real - gen  # the paper's L(G(z_G)): the generator's own batch
        k_used = self.k
        self.k = min(max(self.k + c.lambda_k * balance, 0.0), 1.0)
        return {"loss_d": real - k_used * loss_fake.item(), "loss_g": gen, "loss_real": real,
                "k": self.k, "m_global": real + abs(balance)}

    def figures(self, real: torch.Tensor, labels: torch.Tensor | None) -> dict[str, tuple[torch.Tensor, int]]:
        """``reconstruction``: rows of real images alternating with D's reconstructions (clamped to [-1, 1])."""
        return {"reconstruction": interleave_rows(real, self.nets["discriminator"](real).clamp(-1, 1))}

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "k": self.k}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.k = float(state["k"])
