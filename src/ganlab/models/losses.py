"""Losses shared by the variants: the adversarial ones on raw discriminator logits, feature matching, WGAN-GP's
gradient penalty (ProGAN's critic and DRAGAN take it too), and the Gaussian KL term of the VAE family."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def d_loss_bce(real_logits: torch.Tensor, fake_logits: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
    """The GAN discriminator loss: -log D(x) - log(1 - D(G(z))).

    ``real_target`` = alpha < 1 is one-sided label smoothing (Salimans et al., 2016, section 3.4): the real
    images' target becomes alpha, -alpha log D(x) - (1 - alpha) log(1 - D(x)), while the fakes' stays 0."""
    return F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, real_target)) + \
        F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))


def g_loss_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(G(z)): the generator loss Goodfellow et al. use in practice (strong early gradients)."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def g_loss_saturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """log(1 - D(G(z))) = -softplus(logit), which the generator minimises: the minimax game's own generator loss
    (Goodfellow et al., 2014, eq. 1). Its gradient per sample is -D(G(z)): it vanishes when D rejects the fakes
    confidently, early in training (the paper's section 3, why -log D(G(z)) is used instead)."""
    return -F.softplus(fake_logits).mean()


def feature_matching(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """||E f(x) - E f(G(z))||_2^2 over a batch of each, f an intermediate discriminator layer (N, features): the
    generator's objective of feature matching (Salimans et al., 2016, section 3.1)."""
    return (real_features.mean(0) - fake_features.mean(0)).pow(2).sum()


def kl_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per row, in nats: the VAE's and CVAE-GAN's L_KL."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                     fake: torch.Tensor) -> torch.Tensor:
    """E[(||grad critic(x_hat)||_2 - 1)^2] on x_hat = eps * real + (1 - eps) * fake, eps ~ U[0, 1]
    (Gulrajani et al., 2017). ``critic`` is the network, or any function of x_hat (DRAGAN passes the
    variant's ``d_logits``, and a perturbed real batch and the real batch as the two ends)."""
    eps = torch.rand(len(real), *([1] * (real.dim() - 1)), device=real.device)  # one mix per sample
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()
