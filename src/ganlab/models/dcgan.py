"""DCGAN: all-convolutional generator and discriminator with batch norm (Radford et al., 2016).

Radford, Metz & Chintala, "Unsupervised Representation Learning with Deep Convolutional
Generative Adversarial Networks", ICLR 2016. The paper's rules: strided convolutions instead of
pooling; batch norm everywhere except the generator output and the discriminator input;
ReLU in the generator (Tanh at the output); LeakyReLU 0.2 in the discriminator; Adam with
lr 2e-4 and beta1 0.5; weights from N(0, 0.02). Works at 28, 32 and 64 px.

The step is GAN's, with its options (ganlab.models.gan.GanOptions): DCGAN's config takes them all.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ganlab.models.base import hp
from ganlab.models.blocks import dcgan_discriminator, dcgan_generator
from ganlab.models.gan import GAN, GanOptions
from ganlab.models.registry import register


@dataclass(frozen=True)
class DcganConfig(GanOptions):
    z_dim: int = hp(100, "latent size (the paper's 100-d uniform noise; Gaussian here)", min=1, max=4096)
    width: int = hp(64, "feature maps of the highest-resolution layer; doubled at each downsampling", min=1, max=1024)
    lr: float = hp(2e-4, "the paper's Adam step", min=1e-8, max=1.0)
    beta1: float = hp(0.5, "the paper: 0.9 oscillated and was unstable", min=0.0, max=0.999)
    g_norm: str = hp("batch", "the generator's normalisation: batch (DCGAN's), or none, each layer with a bias "
                     "instead (the generator on which WGAN's and LSGAN's papers show the regular GAN failing)",
                     choices=("batch", "none"))

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.g_norm == "none":
            self.refuse({"vbn_reference": "g_norm = 'none' has no batch norm to replace"})


@register("dcgan")
class DCGAN(GAN):
    """DCGAN: strided-convolution generator and discriminator with batch norm (Radford et al., 2016).

    The losses, optimizers and update order are the GAN's; only the networks change.
    """

    Config = DcganConfig

    def build(self) -> dict[str, nn.Module]:
        c, (channels, size, _) = self.config, self.data.shape
        return {
            "generator": dcgan_generator(c.z_dim, channels, size, c.width, reference=self.reference_codes(),
                                         norm=c.g_norm),
            "discriminator": dcgan_discriminator(channels, size, c.width, minibatch=self.minibatch_shape()),
        }

    @property
    def makes_images(self) -> bool:
        return True

    def sample(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.nets["generator"](z)

    def d_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.nets["discriminator"](x)

    def d_logits_and_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The logits and the features the head reads: the body's last feature map (after its LeakyReLU),
        flattened to (N, channels * side * side) (feature matching's intermediate layer, section 3.1)."""
        net = self.nets["discriminator"]
        body = net[:-2](x)
        return net[-2:](body), body.flatten(1)
