"""BiGAN / ALI: an encoder learned beside the generator, and a discriminator on (x, z) pairs.

Donahue, Krähenbühl & Darrell, "Adversarial Feature Learning", ICLR 2017, and Dumoulin et al.,
"Adversarially Learned Inference", ICLR 2017: the same model found twice. The encoder E maps
images to latent codes; the discriminator sees joint pairs and must tell (x, E(x)) from
(G(z), z). At the optimum the two joint distributions match, so E inverts G, and G(E(x))
reconstructs x without ever being trained to. G and E are trained together against D with the
labels swapped (the non-saturating form). E is the point for representation learning:
``encode`` exposes it, and ``features`` gives its per-layer activations for the evaluation
issue's transfer test (a linear classifier on the features).

DCGAN networks for G and E, D a convolutional x-path and a linear z-path joined by a small MLP
with dropout (ALI's D had dropout 0.2 throughout); Adam 2e-4, beta1 0.5 as BiGAN.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ganlab.models.base import hp
from ganlab.models.blocks import dcgan_discriminator, dcgan_generator, dcgan_init, interleave_rows
from ganlab.models.dcgan import DCGAN
from ganlab.models.losses import d_loss_bce, g_loss_nonsaturating
from ganlab.models.registry import register


@dataclass(frozen=True)
class BiganConfig:
    z_dim: int = hp(100, "latent size (BiGAN's MNIST model: 50; ALI's: 64 to 256)", min=1, max=4096)
    width: int = hp(64, "feature maps of the highest-resolution layer of G, E and D's x-path", min=1, max=1024)
    joint: int = hp(512, "units of D's z-path and of the layer joining the x and z paths", min=1, max=8192)
    dropout: float = hp(0.2, "dropout in D's joint layers (ALI: 0.2)", min=0.0, max=0.9)
    lr: float = hp(2e-4, "Adam step (BiGAN: 2e-4)", min=1e-8, max=1.0)
    beta1: float = hp(0.5, "Adam beta1 (BiGAN: 0.5)", min=0.0, max=0.999)


class JointDiscriminator(nn.Module):
    """D(x, z): a strided-conv x-path, a linear z-path, and an MLP on their concatenation."""

    def __init__(self, channels: int, size: int, width: int, z_dim: int, joint: int, dropout: float) -> None:
        super().__init__()
        body = dcgan_discriminator(channels, size, width)[:-2]  # DCGAN's D without its head
        with torch.no_grad():
            feats = body(torch.zeros(2, channels, size, size)).flatten(1).shape[1]
        self.x_path = nn.Sequential(body, nn.Flatten(), nn.Dropout(dropout))
        self.z_path = nn.Sequential(nn.Linear(z_dim, joint), nn.LeakyReLU(0.2, True), nn.Dropout(dropout))
        self.joint = nn.Sequential(nn.Linear(feats + joint, joint), nn.LeakyReLU(0.2, True), nn.Dropout(dropout),
                                   nn.Linear(joint, 1))
        self.z_path.apply(dcgan_init)
        self.joint.apply(dcgan_init)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.joint(torch.cat([self.x_path(x), self.z_path(z)], 1))


@register("bigan")
class BiGAN(DCGAN):
    """BiGAN / ALI: encoder E, discriminator on (x, z) pairs; G(E(x)) reconstructs x (Donahue et al.; Dumoulin et al., 2017)."""

    Config = BiganConfig
    generator_roles = ("generator", "encoder")  # generator.pt carries E too: it is the feature extractor

    def build(self) -> dict[str, nn.Module]:
        c, (channels, size, _) = self.config, self.data.shape
        return {
            "generator": dcgan_generator(c.z_dim, channels, size, c.width),
            "encoder": dcgan_discriminator(channels, size, c.width, outputs=c.z_dim),
            "discriminator": JointDiscriminator(channels, size, c.width, c.z_dim, c.joint, c.dropout),
        }

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        g_and_e = [*self.nets["generator"].parameters(), *self.nets["encoder"].parameters()]
        return {
            "generator": torch.optim.Adam(g_and_e, lr=c.lr, betas=(c.beta1, 0.999)),  # G and E: one player
            "discriminator": torch.optim.Adam(self.nets["discriminator"].parameters(), lr=c.lr, betas=(c.beta1, 0.999)),
        }

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.nets["encoder"](x)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """E's activations after every LeakyReLU (its conv layers), for linear-probe transfer tests."""
        out, h = [], x
        for layer in self.nets["encoder"]:
            h = layer(h)
            if isinstance(layer, nn.LeakyReLU):
                out.append(h)
        return out

    def step(self, x: torch.Tensor, y: torch.Tensor | None, step: int) -> dict[str, float]:
        d = self.nets["discriminator"]
        z = self.noise(len(x))
        fake, code = self.sample(z), self.encode(x)
        loss_d = d_loss_bce(d(x, code.detach()), d(fake.detach(), z))
        self.update("discriminator", loss_d)
        # G and E together, labels swapped: (x, E(x)) should look generated, (G(z), z) encoded
        # (-log(1 - D(x, E(x))) is the BCE of the negated logit against "real")
        loss_g = g_loss_nonsaturating(d(fake, z)) + g_loss_nonsaturating(-d(x, code))
        self.update("generator", loss_g)
        return {"loss_d": loss_d.item(), "loss_ge": loss_g.item()}

    def figures(self, real: torch.Tensor, labels: torch.Tensor | None) -> dict[str, tuple[torch.Tensor, int]]:
        """``reconstruction``: rows of real images alternating with G(E(x))."""
        return {"reconstruction": interleave_rows(real, self.sample(self.encode(real)))}
