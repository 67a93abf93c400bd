"""CGAN: generator and discriminator both conditioned on the class label, by one-hot concatenation.

Mirza & Osindero, "Conditional Generative Adversarial Nets", arXiv 1411.1784, 2014. On MNIST the
label y enters both networks as a one-hot vector concatenated to their input (the paper first maps
z and y through separate layers and then joins them; a joint first layer on [z, y] is the same
family with fewer knobs). Dropout 0.5 on the discriminator's hidden layers, as in the paper;
the paper also used it in the generator, where in our short CPU runs it made the samples
ignore the label (``g_dropout`` turns it back on). The networks are ``gan``'s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganlab.models.base import hp
from ganlab.models.blocks import mlp_networks
from ganlab.models.gan import GAN, GAN_OPTIONS, GanConfig
from ganlab.models.registry import register


@dataclass(frozen=True)
class CganConfig(GanConfig):
    not_honoured = dict.fromkeys(GAN_OPTIONS, "CGAN's step is its own (the label joins both networks' inputs) and "
                                              "takes none of GAN's step options")
    dropout: float = hp(0.5, "the paper's dropout on the discriminator's hidden layers", min=0.0, max=0.95)
    g_dropout: float = hp(0.0, "dropout on the generator's hidden layers; the paper's 0.5 made a 3,000-step MNIST run "
                               "ignore the label entirely, so it is off", min=0.0, max=0.95)


@register("cgan")
class CGAN(GAN):
    """CGAN: label-conditioned MLP generator and discriminator, one-hot concatenation (Mirza & Osindero, 2014)."""

    Config = CganConfig
    conditional = True

    def build(self) -> dict[str, nn.Module]:
        c, k = self.config, self.data.n_classes
        return mlp_networks(c.z_dim + k, math.prod(self.data.shape), c.hidden, c.dropout, c.g_dropout, d_extra=k)

    @property
    def makes_images(self) -> bool:
        return True

    def one_hot(self, y: torch.Tensor) -> torch.Tensor:
        return F.one_hot(y, self.data.n_classes).float()

    def sample(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if y is None:
            y = self.random_labels(len(z))
        return self.nets["generator"](torch.cat([z, self.one_hot(y)], 1)).view(len(z), *self.data.shape)

    def discriminate(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.nets["discriminator"](torch.cat([x.flatten(1), self.one_hot(y)], 1))

    def step(self, x: torch.Tensor, y: torch.Tensor | None, step: int) -> dict[str, float]:
        if y is None:
            raise ValueError("cgan needs labelled data")
        y_fake = self.random_labels(len(x))
        fake = self.sample(self.noise(len(x)), y_fake)
        loss_d = self.d_loss(self.discriminate(x, y), self.discriminate(fake.detach(), y_fake))
        self.update("discriminator", loss_d)
        loss_g = self.g_loss(self.discriminate(fake, y_fake))
        self.update("generator", loss_g)
        return {"loss_d": loss_d.item(), "loss_g": loss_g.item()}
