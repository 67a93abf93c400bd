"""ACGAN: a class-conditional generator and a discriminator that also classifies (auxiliary classifier).

Odena, Olah & Shlens, "Conditional Image Synthesis with Auxiliary Classifier GANs", ICML 2017.
The generator gets the class as a one-hot vector beside z; the discriminator sees only the
image and predicts both its source (real/fake) and its class. With L_S the source
log-likelihood and L_C the class log-likelihood, D maximises L_S + L_C and G maximises
L_C - L_S: both want generated images to be classified as the class they were asked for.
DCGAN networks; the class head shares every layer of the discriminator but the last.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganlab.models.base import hp
from ganlab.models.blocks import dcgan_discriminator, dcgan_generator
from ganlab.models.dcgan import DCGAN, DcganConfig
from ganlab.models.gan import GAN_OPTIONS
from ganlab.models.registry import register


@dataclass(frozen=True)
class AcganConfig(DcganConfig):
    not_honoured = {**dict.fromkeys(GAN_OPTIONS, "ACGAN's step is its own (source and class log-likelihoods on "
                                                 "one head) and takes none of GAN's step options"),
                    "g_norm": "ACGAN's generator keeps DCGAN's batch norm"}
    class_weight: float = hp(1.0, "weight of the class log-likelihood L_C against the source term (the paper: 1)",
                             min=0.0, max=100.0)


@register("acgan")
class ACGAN(DCGAN):
    """ACGAN: class-conditional generator, discriminator with an auxiliary classifier head (Odena et al., 2017)."""

    Config = AcganConfig
    conditional = True

    def build(self) -> dict[str, nn.Module]:
        c, (channels, size, _), k = self.config, self.data.shape, self.data.n_classes
        return {
            "generator": dcgan_generator(c.z_dim + k, channels, size, c.width),
            # one convolution out: logit 0 is the source, logits 1..k the classes
            "discriminator": dcgan_discriminator(channels, size, c.width, outputs=1 + k),
        }

    def sample(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if y is None:
            y = self.random_labels(len(z))
        return self.nets["generator"](torch.cat([z, F.one_hot(y, self.data.n_classes).float()], 1))

    def discriminate(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.nets["discriminator"](x)
        return out[:, :1], out[:, 1:]

    def step(self, x: torch.Tensor, y: torch.Tensor | None, step: int) -> dict[str, float]:
        if y is None:
            raise ValueError("acgan needs labelled data")
        w = self.config.class_weight
        y_fake = self.random_labels(len(x))
        fake = self.sample(self.noise(len(x)), y_fake)
        src_real, cls_real = self.discriminate(x)
        src_fake, cls_fake = self.discriminate(fake.detach())
        class_d = F.cross_entropy(cls_real, y) + F.cross_entropy(cls_fake, y_fake)
        loss_d = self.d_loss(src_real, src_fake) + w * class_d
        self.update("discriminator", loss_d)
        src_fake, cls_fake = self.discriminate(fake)
        class_g = F.cross_entropy(cls_fake, y_fake)
        loss_g = self.g_loss(src_fake) + w * class_g
        self.update("generator", loss_g)
        accuracy = (cls_real.argmax(1) == y).float().mean()
        return {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "class_loss_fake": class_g.item(),
                "real_class_accuracy": accuracy.item()}
