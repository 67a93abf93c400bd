"""GAN: multilayer-perceptron generator and discriminator, non-saturating generator loss.

Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014. The networks are the usual
modern reading of the paper's: the maxout discriminator becomes LeakyReLU layers with dropout,
and the generator's hidden layers get batch norm and LeakyReLU. With the paper's plain ReLU
generator, the CPU profile (5,000 steps on MNIST) collapsed to a single digit, all 1s; with
batch norm, as DCGAN later prescribed, the same run gives varied digits.

``arch: affine`` is the 1-D toy of the paper's Figure 1: data x ~ N(mu, sigma), generator
G(z) = w * z + b with z ~ N(0, 1), discriminator D(x) = sigmoid(w1 * x + b1). The generator can
represent the data exactly at (w, b) = (+-sigma, mu), and every step logs w and b so one can
watch whether training gets there. (It does not, quite: a logistic discriminator sees only the
mean, so b is pulled to mu while w gets no signal towards sigma; see the train@gan-toy run.)

``arch: toy`` is the plain MLP of the 2-D mode-collapse experiments (data/toy-ring, data/toy-grid): generator
z -> h -> h -> 2 with ReLU and a linear output, discriminator 2 -> h -> h -> 1 logit with ReLU, no batch norm,
no dropout, no tanh (the ring's radius is 2 and the grid reaches 4: the points are not rescaled to [-1, 1]).
It follows Metz et al. (2017, Unrolled GAN, Appendix A) in the generator (two hidden ReLU layers of 128 from
z of 256, a linear projection to 2: set ``hidden: 128``, ``z_dim: 256``) and in ReLU hidden layers and a logit
for the discriminator. Where it does not: the discriminator here has two hidden layers and reads the points
as they are, where the appendix (as we read it; its text could not be checked here) gives it one hidden layer
after scaling the input down by 4; and the weights keep PyTorch's default initialisation instead of the
appendix's orthogonal one (gain 0.8). The unrolling itself is no part of this variant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ganlab.errors import ParamsError
from ganlab.models.base import Variant, hp
from ganlab.models.blocks import mlp_networks
from ganlab.models.losses import d_loss_bce, g_loss_nonsaturating
from ganlab.models.registry import register


@dataclass(frozen=True)
class GanConfig:
    z_dim: int = hp(100, "latent size", min=1, max=4096)
    hidden: int = hp(256, "width h: the generator's layers are h then 2h wide, the discriminator's 2h then h "
                     "(arch toy: every hidden layer is h wide)", min=1, max=65536)
    dropout: float = hp(0.3, "discriminator dropout (arch mlp)", min=0.0, max=0.95)
    lr: float = hp(2e-4, "Adam step", min=1e-8, max=1.0)
    beta1: float = hp(0.5, "Adam beta1, as for DCGAN: momentum 0.9 makes GAN training oscillate", min=0.0, max=0.999)
    arch: str = hp("mlp", "mlp = the MNIST networks; affine = the 1-D toy G(z) = w*z + b, D(x) = sigmoid(w1*x + b1); "
                   "toy = the 2-D toys' ReLU MLPs, two hidden layers each, linear output (Unrolled GAN)",
                   choices=("mlp", "affine", "toy"))

    def __post_init__(self) -> None:
        if self.arch == "affine" and self.z_dim != 1:
            raise ParamsError(f"arch = 'affine' (the 1-D toy) needs z_dim = 1, got z_dim = {self.z_dim}")


def point_networks(z_dim: int, dims: int, h: int) -> dict[str, nn.Module]:
    """The 2-D toys' MLPs: generator z_dim -> h -> h -> dims (ReLU, linear output), discriminator
    dims -> h -> h -> 1 logit (ReLU); no normalisation, PyTorch's default initialisation."""
    generator = nn.Sequential(nn.Linear(z_dim, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, dims))
    discriminator = nn.Sequential(nn.Linear(dims, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, 1))
    return {"generator": generator, "discriminator": discriminator}


@register("gan")
class GAN(Variant):
    """Original GAN: MLP generator and discriminator, non-saturating generator loss (Goodfellow et al., 2014)."""

    Config = GanConfig

    def build(self) -> dict[str, nn.Module]:
        c, h = self.config, self.config.hidden
        pixels = math.prod(self.data.shape)
        if c.arch == "affine":
            if pixels != 1:
                raise ParamsError(f"arch = 'affine' is the 1-D toy; the data here are {self.data.shape}")
            return {"generator": nn.Linear(1, 1), "discriminator": nn.Linear(1, 1)}  # w*z + b; w1*x + b1 (logit)
        if c.arch == "toy":
            if self.data.shape[1:] != (1, 1):
                raise ParamsError(f"arch = 'toy' is for points, fed as (d, 1, 1); the data here are {self.data.shape}")
            return point_networks(c.z_dim, pixels, h)
        return mlp_networks(c.z_dim, pixels, h, c.dropout)

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        return {
            role: torch.optim.Adam(self.nets[role].parameters(), lr=c.lr, betas=(c.beta1, 0.999))
            for role in ("generator", "discriminator")
        }

    @property
    def makes_images(self) -> bool:
        return self.config.arch == "mlp"

    def points(self, samples: torch.Tensor) -> torch.Tensor | None:
        # (N, d, 1, 1) -> (N, d); subclasses that draw images (DCGAN, CGAN) have no arch and no points
        return samples.flatten(1) if not self.makes_images and self.config.arch == "toy" else None

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.config.z_dim, generator=generator).to(self.device)

    def sample(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.nets["generator"](z).view(len(z), *self.data.shape)

    def d_logits(self, x: torch.Tensor) -> torch.Tensor:
        """The discriminator's logit for each image (the MLP takes them flat)."""
        return self.nets["discriminator"](x.flatten(1))

    # The losses on discriminator logits; LSGAN and SNGAN change only these.
    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return d_loss_bce(real_logits, fake_logits)

    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return g_loss_nonsaturating(fake_logits)

    def step(self, x: torch.Tensor, y: torch.Tensor | None, step: int) -> dict[str, float]:
        fake = self.sample(self.noise(len(x)))
        loss_d = self.d_loss(self.d_logits(x), self.d_logits(fake.detach()))
        self.update("discriminator", loss_d)
        loss_g = self.g_loss(self.d_logits(fake))
        self.update("generator", loss_g)
        losses = {"loss_d": loss_d.item(), "loss_g": loss_g.item()}
        # the 1-D toy's whole generator and discriminator, to watch (the image subclasses have no arch)
        if not self.makes_images and self.config.arch == "affine":
            g, d = self.nets["generator"], self.nets["discriminator"]
            losses.update(w=g.weight.item(), b=g.bias.item(), w1=d.weight.item(), b1=d.bias.item())
        return losses
