"""LSGAN: least-squares losses on DCGAN networks (Mao et al., 2017).

Mao, Li, Xie, Lau, Wang & Smolley, "Least Squares Generative Adversarial Networks", ICCV 2017.
With targets a=0 (fake), b=1 (real), c=1 (what G wants): the discriminator minimises
1/2 (D(x) - 1)^2 + 1/2 D(G(z))^2 and the generator 1/2 (D(G(z)) - 1)^2, which keeps penalising
fakes that are on the right side of the boundary but far from the data.
"""

from __future__ import annotations

import torch

from ganlab.models.dcgan import DCGAN
from ganlab.models.registry import register


@register("lsgan")
class LSGAN(DCGAN):
    """LSGAN: least-squares discriminator and generator losses on DCGAN networks (Mao et al., 2017)."""

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return 0.5 * ((real_logits - 1) ** 2).mean() + 0.5 * (fake_logits**2).mean()

    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return 0.5 * ((fake_logits - 1) ** 2).mean()
