"""EBGAN: the discriminator is an auto-encoder, and its reconstruction error is the energy.

Zhao, Mathieu & LeCun, "Energy-based Generative Adversarial Network", ICLR 2017. D(x) =
||Dec(Enc(x)) - x||^2 assigns low energy to real images and high energy to generated ones.
With a margin m:

    L_D = D(x) + max(0, m - D(G(z)))        L_G = D(G(z)) + lambda_pt * f_PT(Enc(G(z)))

The pulling-away term f_PT = 1 / (N (N - 1)) * sum_{i != j} cos^2(s_i, s_j) over the encoder codes
s of a generated batch pushes those codes apart, against mode collapse (paper: lambda_pt 0.1).
The energy here is the mean squared error per pixel (images in [-1, 1]), so m is on that scale;
the paper searched m over a grid for each dataset. Real digits reconstruct to ~0.01 within a
few hundred steps; m = 1 let D hold every generated image near 1 and G collapsed to one grey
texture (2,000-step CPU run), m = 0.1 trained varied digits, so 0.1 is the default. DCGAN-style strided convolutions in the
encoder and transposed convolutions in the decoder, Adam as DCGAN.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganlab.models.base import hp
from ganlab.models.blocks import dcgan_generator, dcgan_init, interleave_rows, upsampling_plan
from ganlab.models.dcgan import DCGAN
from ganlab.models.registry import register


@dataclass(frozen=True)
class EbganConfig:
    z_dim: int = hp(100, "latent size", min=1, max=4096)
    width: int = hp(64, "feature maps of the highest-resolution layer of G and of D's encoder", min=1, max=1024)
    margin: float = hp(0.1, "m, on the per-pixel MSE scale: generated images are pushed up to this energy and no "
                            "further; at 1.0 MNIST collapsed to one grey texture, at 0.1 it gave varied digits",
                       min=0.0, max=1e4)
    pt_weight: float = hp(0.1, "lambda_pt, the pulling-away term's weight (the paper: 0.1; 0 = EBGAN without PT)",
                          min=0.0, max=100.0)
    lr: float = hp(2e-4, "Adam step (DCGAN's, which the paper's MNIST search included)", min=1e-8, max=1.0)
    beta1: float = hp(0.5, "Adam beta1, DCGAN's", min=0.0, max=0.999)


class AutoEncoder(nn.Module):
    """Strided-convolution encoder to a (2^k width, s, s) code, transposed-convolution decoder back.
    ``encode`` gives the code, ``forward`` the reconstruction (in [-1, 1])."""

    def __init__(self, channels: int, size: int, width: int) -> None:
        super().__init__()
        _, steps = upsampling_plan(size)
        enc: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        c = width
        for _ in range(steps - 1):
            enc += [nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * c), nn.LeakyReLU(0.2, True)]
            c *= 2
        dec: list[nn.Module] = []
        for _ in range(steps - 1):
            dec += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c // 2), nn.ReLU(True)]
            c //= 2
        dec += [nn.ConvTranspose2d(c, channels, 4, 2, 1), nn.Tanh()]
        self.encoder, self.decoder = nn.Sequential(*enc), nn.Sequential(*dec)
        self.apply(dcgan_init)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def energy(ae: AutoEncoder, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(per-image energy = mean squared reconstruction error, encoder codes)."""
    code = ae.encode(x)
    return (ae.decoder(code) - x).pow(2).flatten(1).mean(1), code


def pulling_away(codes: torch.Tensor) -> torch.Tensor:
    """f_PT: the mean squared cosine similarity between the codes of different samples."""
    n = len(codes)
    if n < 2:
        return codes.new_zeros(())
    s = F.normalize(codes.flatten(1), dim=1)
    cos2 = (s @ s.t()).pow(2)
    return (cos2.sum() - cos2.diagonal().sum()) / (n * (n - 1))


@register("ebgan")
class EBGAN(DCGAN):
    """EBGAN: auto-encoder discriminator whose reconstruction error is the energy, margin loss, pulling-away term (Zhao et al., 2017)."""

    Config = EbganConfig

    def build(self) -> dict[str, nn.Module]:
        c, (channels, size, _) = self.config, self.data.shape
        return {
            "generator": dcgan_generator(c.z_dim, channels, size, c.width),
            "discriminator": AutoEncoder(channels, size, c.width),
        }

    def step(self, x: torch.Tensor, y: torch.Tensor | None, step: int) -> dict[str, float]:
        c, d = self.config, self.nets["discriminator"]
        fake = self.sample(self.noise(len(x)))
        e_real, _ = energy(d, x)
        e_fake, _ = energy(d, fake.detach())
        loss_d = e_real.mean() + F.relu(c.margin - e_fake).mean()
        self.update("discriminator", loss_d)
        e_gen, codes = energy(d, fake)
        pt = pulling_away(codes)
        loss_g = e_gen.mean() + c.pt_weight * pt
        self.update("generator", loss_g)
        return {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "energy_real": e_real.mean().item(),
                "energy_fake": e_fake.mean().item(), "pulling_away": pt.item()}

    def figures(self, real: torch.Tensor, labels: torch.Tensor | None) -> dict[str, tuple[torch.Tensor, int]]:
        """``reconstruction``: rows of real images alternating with D's reconstructions of them."""
        return {"reconstruction": interleave_rows(real, self.nets["discriminator"](real))}

