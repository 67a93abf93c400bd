"""DCGAN: all-convolutional generator and discriminator with batch norm (Radford et al., 2016).

Radford, Metz & Chintala, "Unsupervised Representation Learning with Deep Convolutional
Generative Adversarial Networks", ICLR 2016. The paper's rules: strided convolutions instead of
pooling; batch norm everywhere except the generator output and the discriminator input;
ReLU in the generator (Tanh at the output); LeakyReLU 0.2 in the discriminator; Adam with
lr 2e-4 and beta1 0.5; weights from N(0, 0.02). Works at 28, 32 and 64 px.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ganlab.models.gan import GAN
from ganlab.models.base import hp
from ganlab.models.blocks import dcgan_init, upsampling_plan
from ganlab.models.registry import register


@dataclass(frozen=True)
class DcganConfig:
    z_dim: int = hp(100, "latent size (the paper's 100-d uniform noise; Gaussian here)", min=1, max=4096)
    width: int = hp(64, "feature maps of the highest-resolution layer; doubled at each downsampling", min=1, max=1024)
    lr: float = hp(2e-4, "the paper's Adam step", min=1e-8, max=1.0)
    beta1: float = hp(0.5, "the paper: 0.9 oscillated and was unstable", min=0.0, max=0.999)


def dcgan_generator(z_dim: int, channels: int, size: int, width: int) -> nn.Sequential:
    start, steps = upsampling_plan(size)
    c = width * 2 ** (steps - 1)
    layers: list[nn.Module] = [nn.ConvTranspose2d(z_dim, c, start, 1, 0, bias=False), nn.BatchNorm2d(c), nn.ReLU(True)]
    for _ in range(steps - 1):  # (B, c, s, s) -> (B, c/2, 2s, 2s)
        layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c // 2), nn.ReLU(True)]
        c //= 2
    layers += [nn.ConvTranspose2d(c, channels, 4, 2, 1), nn.Tanh()]  # no batch norm at the output
    net = nn.Sequential(nn.Unflatten(1, (z_dim, 1, 1)), *layers)
    net.apply(dcgan_init)
    return net


def dcgan_discriminator(channels: int, size: int, width: int, norm: str = "batch", outputs: int = 1) -> nn.Sequential:
    """DCGAN's discriminator; ``norm`` "batch" (DCGAN), "none" (a WGAN-GP critic: the gradient
    penalty is per sample, which batch norm would break) or "spectral" (SNGAN: every layer).

    The last two modules are the head (a convolution over the whole final map to ``outputs``
    logits, then Flatten); ``net[:-2]`` is the body, for variants that add heads of their own."""
    if norm not in ("batch", "none", "spectral"):
        raise ValueError(f"unknown norm {norm!r}")
    start, steps = upsampling_plan(size)
    sn = nn.utils.parametrizations.spectral_norm if norm == "spectral" else (lambda m: m)
    layers: list[nn.Module] = [sn(nn.Conv2d(channels, width, 4, 2, 1)), nn.LeakyReLU(0.2, True)]  # no BN at input
    c = width
    for _ in range(steps - 1):  # (B, c, 2s, 2s) -> (B, 2c, s, s)
        layers += [sn(nn.Conv2d(c, c * 2, 4, 2, 1, bias=norm != "batch"))]
        layers += [nn.BatchNorm2d(c * 2)] if norm == "batch" else []
        layers += [nn.LeakyReLU(0.2, True)]
        c *= 2
    layers += [sn(nn.Conv2d(c, outputs, start, 1, 0)), nn.Flatten()]  # (B, c, start, start) -> (B, outputs)
    net = nn.Sequential(*layers)
    if norm != "spectral":  # spectral norm rescales the weights itself
        net.apply(dcgan_init)
    return net


@register("dcgan")
class DCGAN(GAN):
    """DCGAN: strided-convolution generator and discriminator with batch norm (Radford et al., 2016).

    The losses, optimizers and update order are the GAN's; only the networks change.
    """

    Config = DcganConfig

    def build(self) -> dict[str, nn.Module]:
        c, (channels, size, _) = self.config, self.data.shape
        return {
            "generator": dcgan_generator(c.z_dim, channels, size, c.width),
            "discriminator": dcgan_discriminator(channels, size, c.width),
        }

    @property
    def makes_images(self) -> bool:
        return True

    def sample(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.nets["generator"](z)

    def d_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.nets["discriminator"](x)
