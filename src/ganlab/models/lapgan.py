"""LAPGAN: a Laplacian pyramid of generative models, coarse to fine.

Denton, Chintala, Szlam & Fergus, "Deep Generative Image Models using a Laplacian Pyramid of
Adversarial Networks", NeurIPS 2015. An image I_0 is written as a pyramid: I_{k+1} = d(I_k)
(downsampling), and each level keeps the residual h_k = I_k - u(I_{k+1}) (u: upsampling). One
GAN per level:

- the coarsest level, k = K, is an ordinary GAN on the tiny images I_K (fully connected: ganlab's
  MLP GAN, whose generator has batch norm);
- every finer level k is a conditional GAN on the residuals: G_k(z_k, l_k) draws h_k given the
  upsampled coarser image l_k = u(I_{k+1}), and D_k(h, l_k) judges a residual given the same l_k.

Each level trains on real pyramids, independently of the others (the paper's training).
Sampling runs the chain: I~_K = G_K(z_K), then I~_k = u(I~_{k+1}) + G_k(z_k, u(I~_{k+1})) up to
full size. The levels' figure shows every stage of that chain. Here d is 2x2 average pooling and
u bilinear upsampling (the paper: a Gaussian pyramid); the finer levels are 3-layer
convolutional nets as the paper's CIFAR-10 models, the noise z_k a plane appended to l_k.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganlab.errors import ParamsError
from ganlab.models.base import Variant, hp
from ganlab.models.blocks import dcgan_init, mlp_networks
from ganlab.models.losses import d_loss_bce, g_loss_nonsaturating
from ganlab.models.registry import register


@dataclass(frozen=True)
class LapganConfig:
    levels: int = hp(3, "pyramid levels: 28 px -> 14 -> 7 at 3 (the paper: 3 on CIFAR-10, 8 -> 16 -> 32)",
                     min=2, max=6)
    z_dim: int = hp(100, "the coarsest level's latent size", min=1, max=4096)
    hidden: int = hp(600, "widest layer of the coarsest level's fully connected G and D (the paper: 600 units)",
                     min=2, max=8192)
    width: int = hp(64, "filters of the finer levels' convolutional G and D (the paper: 64 to 128)", min=1,
                    max=1024)
    lr: float = hp(2e-4, "Adam step of every level", min=1e-8, max=1.0)
    beta1: float = hp(0.5, "Adam beta1", min=0.0, max=0.999)


def down(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 2)


def up(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def pyramid(x: torch.Tensor, levels: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """(images I_0 .. I_K, residuals h_0 .. h_{K-1}) with h_k = I_k - u(I_{k+1}), so
    I_k = u(I_{k+1}) + h_k exactly."""
    images = [x]
    for _ in range(levels - 1):
        images.append(down(images[-1]))
    residuals = [images[k] - up(images[k + 1]) for k in range(levels - 1)]
    return images, residuals


class ResidualGenerator(nn.Module):
    """G_k(z_k, l): three 3x3 conv layers on [l, noise plane] -> a residual with the image's channels."""

    def __init__(self, channels: int, width: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels + 1, width, 3, 1, 1), nn.BatchNorm2d(width), nn.ReLU(True),
            nn.Conv2d(width, width, 3, 1, 1), nn.BatchNorm2d(width), nn.ReLU(True),
            nn.Conv2d(width, channels, 3, 1, 1),
        )
        self.net.apply(dcgan_init)

    def forward(self, z: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([coarse, z], 1))


class ResidualDiscriminator(nn.Module):
    """D_k(h, l): convolutions on [h, l], one strided, then a linear logit."""

    def __init__(self, channels: int, side: int, width: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(2 * channels, width, 3, 1, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(width, width, 4, 2, 1), nn.LeakyReLU(0.2, True),
            nn.Flatten(), nn.Dropout(0.5), nn.Linear(width * (side // 2) ** 2, 1),
        )
        self.net.apply(dcgan_init)

    def forward(self, h: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([h, coarse], 1))


@register("lapgan")
class LAPGAN(Variant):
    """LAPGAN: a Laplacian pyramid of GANs, the finer levels conditioned on the coarser image (Denton et al., 2015)."""

    Config = LapganConfig

    def sides(self) -> list[int]:
        """Image side at each level, finest first."""
        side = self.data.shape[1]
        return [side // 2**k for k in range(self.config.levels)]

    def build(self) -> dict[str, nn.Module]:
        c, (channels, size, width) = self.config, self.data.shape
        if size != width or size % 2 ** (c.levels - 1):
            raise ParamsError(f"model.levels = {c.levels}: a {size}x{width} image does not halve {c.levels - 1} times")
        coarse = self.sides()[-1]
        pixels = channels * coarse**2
        # the coarsest level is the MLP GAN of ganlab's gan variant (batch norm in G): with plain ReLU
        # layers, as first written here, it collapsed to one 7x7 shape in the 2000-step CPU run
        top = mlp_networks(c.z_dim, pixels, c.hidden // 2, dropout=0.5)
        g_top = nn.Sequential(*top["generator"], nn.Unflatten(1, (channels, coarse, coarse)))
        d_top = nn.Sequential(nn.Flatten(), *top["discriminator"])
        gens = [ResidualGenerator(channels, c.width) for _ in range(c.levels - 1)] + [g_top]
        discs = [ResidualDiscriminator(channels, s, c.width) for s in self.sides()[:-1]] + [d_top]
        return {"generator": nn.ModuleList(gens), "discriminator": nn.ModuleList(discs)}

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        # one Adam per player over all levels: Adam is per parameter, and the levels' losses share
        # no parameters, so this is the same as one optimizer per level
        c = self.config
        return {role: torch.optim.Adam(self.nets[role].parameters(), lr=c.lr, betas=(c.beta1, 0.999))
                for role in ("generator", "discriminator")}

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """z_K and the noise planes of the finer levels, flattened into one code per sample."""
        size = self.config.z_dim + sum(s * s for s in self.sides()[:-1])
        return torch.randn(n, size, generator=generator).to(self.device)

    def split_noise(self, z: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        top, rest = z[:, : self.config.z_dim], z[:, self.config.z_dim :]
        planes, offset = [], 0
        for s in self.sides()[:-1]:
            planes.append(rest[:, offset : offset + s * s].reshape(len(z), 1, s, s))
            offset += s * s
        return top, planes

    def chain(self, z: torch.Tensor) -> list[torch.Tensor]:
        """The sampling chain I~_K, ..., I~_0 (coarsest first)."""
        top, planes = self.split_noise(z)
        gens = self.nets["generator"]
        images = [gens[-1](top)]
        for k in reversed(range(self.config.levels - 1)):
            coarse = up(images[-1])
            images.append(coarse + gens[k](planes[k], coarse))
        return images

    def sample(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.chain(z)[-1].clamp(-1, 1)

    def step(self, x: torch.Tensor, y: torch.Tensor | None, step: int) -> dict[str, float]:
        images, residuals = pyramid(x, self.config.levels)
        top_z, planes = self.split_noise(self.noise(len(x)))
        gens, discs = self.nets["generator"], self.nets["discriminator"]
        fakes, conds = [], []
        for k in range(self.config.levels):
            if k == self.config.levels - 1:
                fakes.append(gens[k](top_z))
                conds.append(None)
            else:
                coarse = up(images[k + 1])  # conditioned on the real coarser image, as in training
                fakes.append(gens[k](planes[k], coarse))
                conds.append(coarse)
        reals = residuals + [images[-1]]

        def judge(k: int, v: torch.Tensor) -> torch.Tensor:
            return discs[k](v) if conds[k] is None else discs[k](v, conds[k])

        d_losses = [d_loss_bce(judge(k, reals[k]), judge(k, fakes[k].detach())) for k in range(self.config.levels)]
        self.update("discriminator", sum(d_losses))
        g_losses = [g_loss_nonsaturating(judge(k, fakes[k])) for k in range(self.config.levels)]
        self.update("generator", sum(g_losses))
        out = {}
        for k in range(self.config.levels):
            out[f"loss_d_level{k}"] = d_losses[k].item()
            out[f"loss_g_level{k}"] = g_losses[k].item()
        return out

    def figures(self, real: torch.Tensor, labels: torch.Tensor | None) -> dict[str, tuple[torch.Tensor, int]]:
        """``levels``: each row one sample, its columns the chain from the coarsest level to the
        final image (each level's image shown at full size)."""
        rows = min(10, len(real))
        z = self.noise(rows, torch.Generator().manual_seed(0))
        side = self.data.shape[1]
        chain = [F.interpolate(im, size=(side, side), mode="nearest").clamp(-1, 1) for im in self.chain(z)]
        grid = torch.stack(chain, 1).reshape(rows * len(chain), *self.data.shape)
        return {"levels": (grid, len(chain))}

