"""AAE: an auto-encoder whose codes are made to follow a prior by an adversarial discriminator.

Makhzani, Shlens, Jaitly, Goodfellow & Frey, "Adversarial Autoencoders", ICLR 2016 workshop.
A deterministic encoder q(z|x) and a decoder are trained to reconstruct; a discriminator on the
latent space tells codes drawn from the prior p(z) from codes of real images, and the encoder,
playing the generator, learns to make its aggregate posterior q(z) = E_x q(z|x) match p(z). Each
step runs the paper's two phases on the same batch: reconstruction (encoder and decoder), then
regularisation (the discriminator, then the encoder against it). Once q(z) matches p(z),
decoding prior samples generates images.

Priors: ``gaussian``, N(0, I); ``mixture``, the paper's 10 two-dimensional Gaussians on a circle,
one per class, with the label information of its Figure 4: the discriminator also sees the
one-hot label, its prior samples come from that label's component, so each digit is sent to its
own component. Networks as the paper's MNIST model: two ReLU layers of 1000 units in each of the
three networks (narrower on CPU). The paper used SGD with momentum; Adam is used here, as in
most reimplementations, because it needs no per-phase schedule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganlab.errors import ParamsError
from ganlab.models.base import Variant, hp
from ganlab.models.blocks import interleave_rows
from ganlab.models.losses import d_loss_bce, g_loss_nonsaturating
from ganlab.models.registry import register


@dataclass(frozen=True)
class AaeConfig:
    z_dim: int = hp(2, "latent size (the paper's figures: 2; the mixture prior needs 2)", min=1, max=4096)
    hidden: int = hp(1000, "units of each of the two ReLU layers of encoder, decoder and discriminator (the paper: 1000)",
                     min=1, max=8192)
    prior: str = hp("gaussian", "p(z): gaussian N(0, I), or mixture: 10 2-D Gaussians, one per class, with labels",
                    choices=("gaussian", "mixture"))
    radius: float = hp(4.0, "mixture: distance of each component's mean from the origin", min=0.0, max=100.0)
    std_radial: float = hp(1.0, "mixture: standard deviation along the radius (elongated, as the paper's figure)",
                           min=1e-3, max=100.0)
    std_tangent: float = hp(0.25, "mixture: standard deviation across it", min=1e-3, max=100.0)
    lr: float = hp(1e-3, "Adam step of the reconstruction phase", min=1e-8, max=1.0)
    lr_adversarial: float = hp(1e-3, "Adam step of the regularisation phase (discriminator and encoder), as the "
                               "reconstruction's: at 2e-4 (MNIST, 5000 steps) reconstruction won, the codes spread to "
                               "[-10, 17] and D rejected them (encoder loss 4.1); at 1e-3 D is at chance",
                               min=1e-8, max=1.0)
    beta1: float = hp(0.5, "Adam beta1 of the regularisation phase, as GANs use", min=0.0, max=0.999)


def mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(True), nn.Linear(hidden, hidden), nn.ReLU(True),
                         nn.Linear(hidden, n_out))


@register("aae")
class AAE(Variant):
    """AAE: deterministic auto-encoder whose aggregate posterior is matched to a prior by a latent discriminator (Makhzani et al., 2016)."""

    Config = AaeConfig
    labelled = True  # the mixture prior's components and the latent scatter's colours are the classes
    generator_roles = ("decoder", "encoder")  # the encoder too: the latent scatter is drawn from it
    reads_test_split = True  # evaluate and test_figures: the test images' codes

    def build(self) -> dict[str, nn.Module]:
        c, n = self.config, math.prod(self.data.shape)
        if c.prior == "mixture":
            if c.z_dim != 2:
                raise ParamsError(f"model.z_dim = {c.z_dim}: the mixture prior is the paper's 2-D one; use z_dim: 2")
            if self.data.n_classes < 2:
                raise ParamsError("model.prior = 'mixture' needs a labelled dataset: one component per class")
        conditioned = self.data.n_classes if c.prior == "mixture" else 0
        return {
            "encoder": mlp(n, c.hidden, c.z_dim),
            "decoder": nn.Sequential(mlp(c.z_dim, c.hidden, n), nn.Tanh()),
            "discriminator": mlp(c.z_dim + conditioned, c.hidden, 1),
        }

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        adv = (c.beta1, 0.999)
        return {
            "autoencoder": torch.optim.Adam([*self.nets["encoder"].parameters(), *self.nets["decoder"].parameters()],
                                            lr=c.lr),
            "discriminator": torch.optim.Adam(self.nets["discriminator"].parameters(), lr=c.lr_adversarial, betas=adv),
            "encoder": torch.optim.Adam(self.nets["encoder"].parameters(), lr=c.lr_adversarial, betas=adv),
        }

    # ------------------------------------------------------------------ the prior

    def prior_sample(self, labels: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ p(z), from each label's component for the mixture (labels are ignored by the Gaussian)."""
        c = self.config
        eps = torch.randn(len(labels), c.z_dim, generator=generator).to(self.device)
        if c.prior == "gaussian":
            return eps
        angle = 2 * math.pi * labels.to(self.device).float() / self.data.n_classes
        radial = torch.stack([angle.cos(), angle.sin()], 1)
        tangent = torch.stack([-angle.sin(), angle.cos()], 1)
        return (c.radius + c.std_radial * eps[:, :1]) * radial + c.std_tangent * eps[:, 1:] * tangent

    def critic(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """The discriminator's logit for codes z (with their one-hot labels under the mixture prior)."""
        if self.config.prior == "mixture":
            z = torch.cat([z, F.one_hot(labels, self.data.n_classes).to(z.dtype)], 1)
        return self.nets["discriminator"](z)

    # ------------------------------------------------------------------ training

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.nets["encoder"](x.flatten(1))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.nets["decoder"](z).view(len(z), *self.data.shape)

    def step(self, x: torch.Tensor, y: torch.Tensor | None, step: int) -> dict[str, float]:
        if y is None and self.config.prior == "mixture":
            raise RuntimeError("aae with the mixture prior is trained with labels")
        # reconstruction phase
        loss_recon = F.mse_loss(self.decode(self.encode(x)), x)
        self.update("autoencoder", loss_recon)
        # regularisation phase: the discriminator, then the encoder as its generator
        code = self.encode(x)
        prior = self.prior_sample(y if y is not None else torch.zeros(len(x), dtype=torch.long))
        loss_d = d_loss_bce(self.critic(prior, y), self.critic(code.detach(), y))
        self.update("discriminator", loss_d)
        loss_e = g_loss_nonsaturating(self.critic(code, y))
        self.update("encoder", loss_e)
        return {"loss_recon": loss_recon.item(), "loss_d": loss_d.item(), "loss_e": loss_e.item()}

    # ------------------------------------------------------------------ sampling

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Prior samples; under the mixture each from a uniformly drawn component."""
        k = max(self.data.n_classes, 1)
        labels = torch.randint(0, k, (n,), generator=generator)
        return self.prior_sample(labels, generator)

    def sample(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decode(z)

    def figures(self, real: torch.Tensor, labels: torch.Tensor | None) -> dict[str, tuple[torch.Tensor, int]]:
        """``reconstruction``: real rows alternating with their reconstructions."""
        return {"reconstruction": interleave_rows(real, self.decode(self.encode(real)))}

    # ------------------------------------------------------------------ the test split

    def evaluate(self, images: torch.Tensor, labels: torch.Tensor | None) -> dict[str, float]:
        """Mean squared reconstruction error per pixel on the test split (pixels in [-1, 1])."""
        err = torch.cat([(self.decode(self.encode(b)) - b).pow(2).flatten(1).mean(1) for b in images.split(1000)])
        return {"recon_mse": err.mean().item()}

    def protocol(self) -> dict[str, Any]:
        return {"split": "test", "images": "all", "recon_mse": "mean squared error per pixel, pixels scaled to [-1, 1]"}

    def test_figures(self, images: torch.Tensor, labels: torch.Tensor | None) -> dict[str, Any]:
        """``latent``: the test set's codes coloured by label, over samples of the prior (grey); codes
        of more than two dimensions are projected on their first two principal components."""
        from matplotlib.figure import Figure

        code = torch.cat([self.encode(b) for b in images.split(1000)]).float().cpu()
        k = max(self.data.n_classes, 1)
        prior = self.noise(len(code), torch.Generator().manual_seed(0)).float().cpu()
        title = f"AAE codes of {len(code)} test images, {self.config.prior} prior"
        if code.shape[1] > 2:
            mean = code.mean(0)
            _, _, v = torch.linalg.svd(code - mean, full_matrices=False)
            code, prior = (code - mean) @ v[:2].T, (prior - mean) @ v[:2].T
            title += " (first two principal components)"
        elif code.shape[1] == 1:
            code, prior = torch.cat([code, torch.zeros_like(code)], 1), torch.cat([prior, torch.zeros_like(prior)], 1)
        fig = Figure(figsize=(6, 6))
        ax = fig.add_subplot()
        ax.scatter(prior[:, 0], prior[:, 1], s=2, c="lightgrey", label="p(z)")
        colours = labels.cpu().numpy() if labels is not None else None
        points = ax.scatter(code[:, 0], code[:, 1], s=2, c=colours, cmap="tab10", vmin=-0.5, vmax=k - 0.5)
        if labels is not None:
            fig.colorbar(points, ax=ax, ticks=range(k), label="class")
        ax.set_title(title, fontsize=9)
        ax.set_aspect("equal")
        return {"latent": fig}
