"""DiscoGAN: cross-domain relations discovered by two coupled GANs with reconstruction (Kim et al., 2017).

Kim, Cha, Kim, Lee & Kim, "Learning to Discover Cross-Domain Relations with Generative Adversarial
Networks", ICML 2017. Two generators G_AB and G_BA and two discriminators D_B and D_A on unpaired
images of two domains:

- each generator is an encoder-decoder: 4x4 convolutions with stride 2 and leaky ReLU down to a
  4x4 bottleneck, then 4x4 deconvolutions with ReLU back to an image; batch norm in between, none
  after the first convolution and the output (64 px in the paper: four layers each way);
- each discriminator is such an encoder plus a last 4x4 convolution to one logit (a sigmoid);
- G_AB's loss is the GAN loss -log D_B(G_AB(x_A)) plus the reconstruction loss
  d(G_BA(G_AB(x_A)), x_A), and symmetrically for G_BA, and both are trained together:
  L_G = L_GAN_B + L_CONST_A + L_GAN_A + L_CONST_B; each discriminator takes the usual GAN loss;
- d is "a distance function such as MSE, cosine distance or hinge loss": MSE here, as in the
  authors' code; ``distance: cosine`` is the paper's second option;
- Adam, lr 2e-4, betas (0.5, 0.999), and weight decay 1e-5 as in the authors' code, which also
  trains with batch 64.

At 28 px the encoder halves 28 -> 14 -> 7 -> 4 (a 3x3 kernel for the odd 7), three layers each way;
at 64 px it is the paper's four. The authors' code adds a feature-matching loss, a schedule of the
GAN/reconstruction weights and a discriminator update only every third iteration; the paper has
none of these, and neither has this variant. The batch split by domain, the update order, the pool
of domain-A inputs behind ``sample`` and the translation figures are shared with CycleGAN
(ganlab.models.translation.UnpairedTranslation).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganlab.errors import ParamsError
from ganlab.models.base import hp
from ganlab.models.blocks import dcgan_init
from ganlab.models.losses import g_loss_nonsaturating
from ganlab.models.registry import register
from ganlab.models.translation import UnpairedTranslation

DISTANCES = ("mse", "cosine")


def halving_sides(size: int) -> list[int]:
    """The encoder's feature-map sides: halved (rounding up) down to 4 or less; 28 -> [28, 14, 7, 4]."""
    if size < 16:
        raise ParamsError(f"discogan's encoder halves the image down to 4 px; a {size} px side is too small")
    sides = [size]
    while sides[-1] > 4:
        sides.append((sides[-1] + 1) // 2)
    return sides


def discogan_encoder(channels: int, size: int, width: int) -> tuple[list[nn.Module], int]:
    """Stride-2 convolutions (4x4 on even sides, 3x3 on odd ones) with leaky ReLU, batch norm after all
    but the first, channels w, 2w, 4w, 8w, 8w ...: (B, C, size, size) -> (B, c, 4, 4) (or smaller).
    Returns the layers and c."""
    layers: list[nn.Module] = []
    c = channels
    for i, side in enumerate(halving_sides(size)[:-1]):
        out = width * 2 ** min(i, 3)
        layers.append(nn.Conv2d(c, out, 4 if side % 2 == 0 else 3, 2, 1, bias=i == 0))
        layers += [nn.BatchNorm2d(out)] if i else []
        layers.append(nn.LeakyReLU(0.2, True))
        c = out
    return layers, c


def discogan_generator(channels: int, size: int, width: int) -> nn.Sequential:
    """The encoder, then its mirror in transposed convolutions with ReLU and batch norm, and tanh
    at the output: (B, C, H, W) -> (B, C, H, W) through a 4x4 bottleneck."""
    layers, c = discogan_encoder(channels, size, width)
    up = halving_sides(size)[::-1]  # 28 px: [4, 7, 14, 28]
    for i, side in enumerate(up[1:]):
        last = i == len(up) - 2
        out = channels if last else width * 2 ** min(len(up) - 3 - i, 3)
        # 4x4 doubles the side, 3x3 gives 2s - 1 (4 -> 7)
        layers.append(nn.ConvTranspose2d(c, out, 4 if side % 2 == 0 else 3, 2, 1, bias=last))
        layers += [nn.Tanh()] if last else [nn.BatchNorm2d(out), nn.ReLU(True)]
        c = out
    net = nn.Sequential(*layers)
    net.apply(dcgan_init)
    return net


def discogan_discriminator(channels: int, size: int, width: int) -> nn.Sequential:
    """The encoder and a convolution over its whole last map to one logit: (B, C, H, W) -> (B, 1)."""
    layers, c = discogan_encoder(channels, size, width)
    net = nn.Sequential(*layers, nn.Conv2d(c, 1, halving_sides(size)[-1]), nn.Flatten())
    net.apply(dcgan_init)
    return net


@dataclass(frozen=True)
class DiscoganConfig:
    width: int = hp(64, "feature maps of the first encoder layer (the paper's 64), doubled at each halving up to 8x",
                    min=1, max=1024)
    distance: str = hp("mse", "reconstruction distance d: mse (the authors' code) or cosine, both named in the paper",
                       choices=DISTANCES)
    lambda_reconstruction: float = hp(1.0, "weight of each reconstruction term (the paper adds them unweighted)",
                                      min=0.0, max=1000.0)
    lr: float = hp(2e-4, "the paper's Adam step", min=1e-8, max=1.0)
    beta1: float = hp(0.5, "the paper's Adam beta1 (beta2 0.999)", min=0.0, max=0.999)
    weight_decay: float = hp(1e-5, "Adam's L2 weight decay in the authors' code", min=0.0, max=1.0)
    pool_size: int = hp(256, "domain-A training images stored in generator.pt; the samples are their translations",
                        min=1, max=100000)


@register("discogan")
class DiscoGAN(UnpairedTranslation):
    """DiscoGAN: unpaired A <-> B translation by encoder-decoder GANs with reconstruction loss (Kim et al., 2017)."""

    Config = DiscoganConfig

    def build_translators(self) -> dict[str, nn.Module]:
        c, (channels, size, _) = self.config, self.data.shape
        return {
            "generator": discogan_generator(channels, size, c.width),
            "generator_ba": discogan_generator(channels, size, c.width),
            "discriminator_a": discogan_discriminator(channels, size, c.width),
            "discriminator_b": discogan_discriminator(channels, size, c.width),
        }

    def adversarial_g(self, fake_out: torch.Tensor) -> torch.Tensor:
        return g_loss_nonsaturating(fake_out)

    def adversarial_d(self, real_out: torch.Tensor | None, fake_out: torch.Tensor | None) -> torch.Tensor:
        """-log D(x) - log(1 - D(G(x'))) (ganlab.models.losses.d_loss_bce); a missing part counts 0."""
        parts = [F.binary_cross_entropy_with_logits(real_out, torch.ones_like(real_out))] if real_out is not None else []
        if fake_out is not None:
            parts.append(F.binary_cross_entropy_with_logits(fake_out, torch.zeros_like(fake_out)))
        return sum(parts)

    def reconstruction(self, reconstructed: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if self.config.distance == "cosine":
            return (1 - F.cosine_similarity(reconstructed.flatten(1), x.flatten(1))).mean()
        return F.mse_loss(reconstructed, x)

    @property
    def reconstruction_weight(self) -> float:
        return self.config.lambda_reconstruction
