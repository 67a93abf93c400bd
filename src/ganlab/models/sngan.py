"""SNGAN: spectral normalisation in every discriminator layer, hinge loss (Miyato et al., 2018).

Miyato, Kataoka, Koyama & Yoshida, "Spectral Normalization for Generative Adversarial
Networks", ICLR 2018. Dividing each weight by its largest singular value (one power iteration
per step) bounds the discriminator's Lipschitz constant without clipping or a penalty. The
paper's standard-CNN setting: Adam lr 2e-4, betas (0.5, 0.999), one discriminator step per
generator step, hinge loss.

GAN's step options apply but for the two about its log loss (g_loss, real_label), which the hinge loss
replaces, and minibatch discrimination, a layer that spectral normalisation would not bound.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganlab.models.blocks import dcgan_discriminator, dcgan_generator
from ganlab.models.dcgan import DCGAN, DcganConfig
from ganlab.models.registry import register

_HINGE = "SNGAN's losses are the hinge loss, not the log loss"
_SPECTRAL = ("every layer of SNGAN's discriminator is spectrally normalised; minibatch discrimination's distances "
             "would be a layer without that bound")


@dataclass(frozen=True)
class SnganConfig(DcganConfig):
    not_honoured = {"g_loss": _HINGE, "real_label": _HINGE, "minibatch_kernels": _SPECTRAL,
                    "minibatch_kernel_dim": _SPECTRAL}


@register("sngan")
class SNGAN(DCGAN):
    """SNGAN: spectrally normalised discriminator and hinge loss (Miyato et al., 2018)."""

    Config = SnganConfig

    def build(self) -> dict[str, nn.Module]:
        c, (channels, size, _) = self.config, self.data.shape
        return {
            "generator": dcgan_generator(c.z_dim, channels, size, c.width, reference=self.reference_codes(),
                                         norm=c.g_norm),
            "discriminator": dcgan_discriminator(channels, size, c.width, norm="spectral"),
        }

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()

    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return -fake_logits.mean()
