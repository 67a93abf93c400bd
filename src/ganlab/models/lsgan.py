"""LSGAN: least-squares losses on DCGAN networks (Mao et al., 2017).

Mao, Li, Xie, Lau, Wang & Smolley, "Least Squares Generative Adversarial Networks", ICCV 2017.
With targets a=0 (fake), b=1 (real), c=1 (what G wants): the discriminator minimises
1/2 (D(x) - 1)^2 + 1/2 D(G(z))^2 and the generator 1/2 (D(G(z)) - 1)^2, which keeps penalising
fakes that are on the right side of the boundary but far from the data.

GAN's step options apply but for the two about its log loss (g_loss, real_label), which LSGAN replaces.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ganlab.models.dcgan import DCGAN, DcganConfig
from ganlab.models.registry import register

_OWN_LOSSES = "LSGAN's losses are its own least squares with the paper's targets a = 0, b = c = 1, not the log loss"


@dataclass(frozen=True)
class LsganConfig(DcganConfig):
    not_honoured = {"g_loss": _OWN_LOSSES, "real_label": _OWN_LOSSES}


@register("lsgan")
class LSGAN(DCGAN):
    """LSGAN: least-squares discriminator and generator losses on DCGAN networks (Mao et al., 2017)."""

    Config = LsganConfig

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return 0.5 * ((real_logits - 1) ** 2).mean() + 0.5 * (fake_logits**2).mean()

    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return 0.5 * ((fake_logits - 1) ** 2).mean()
