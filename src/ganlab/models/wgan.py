"""WGAN: a critic estimating the Wasserstein-1 distance, kept Lipschitz by weight clipping.

Arjovsky, Chintala & Bottou, "Wasserstein GAN", ICML 2017 (Algorithm 1): the critic has no
sigmoid and maximises E[f(x)] - E[f(G(z))]; after every critic update its weights are clipped
to [-c, c] with c = 0.01; 5 critic iterations, each on a fresh real batch, per generator step;
RMSProp with lr 5e-5 (momentum-based optimisers were unstable in the paper).

The authors' code also trains the critic much longer (100 iterations) during the first 25
generator steps and at every 500th; ``warmup_critic: 100`` turns that on (profiles/paper.yaml
does). The default is Algorithm 1 alone: on MNIST with the CPU profile's networks, 400
generator steps gave a positive, falling Wasserstein estimate either way (0.22 without the
warm-up, 0.27 with it), sharper strokes without it, and the warm-up costs 2,375 extra critic
iterations.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ganlab.errors import ParamsError
from ganlab.models.base import hp
from ganlab.models.blocks import point_networks
from ganlab.models.dcgan import DCGAN, DcganConfig
from ganlab.models.gan import GAN_OPTIONS
from ganlab.models.registry import register


@dataclass(frozen=True)
class WganConfig(DcganConfig):
    not_honoured = dict.fromkeys(GAN_OPTIONS, "WGAN's critic has no sigmoid, so no log loss to saturate and no label "
                                              "to smooth, and its step is its own: its k is n_critic")
    lr: float = hp(5e-5, "the paper's RMSProp step", min=1e-8, max=1.0)
    clip: float = hp(0.01, "weight clipping bound c", min=1e-6, max=10.0)
    n_critic: int = hp(5, "critic iterations per generator step, each on a fresh real batch", min=1, max=100)
    warmup_critic: int = hp(5, "critic iterations in the warm-up and refresh steps; the authors' code used 100 "
                               "(5 = n_critic: Algorithm 1 alone)", min=1, max=1000)
    warmup_steps: int = hp(25, "generator steps at the start that get warmup_critic iterations", min=0, max=10**6)
    refresh_every: int = hp(500, "every this many generator steps, one more step with warmup_critic (0 = never)",
                            min=0, max=10**9)
    arch: str = hp("conv", "conv = DCGAN's networks (images); toy = the 2-D toys' ReLU MLPs, two hidden layers of "
                   "`width` units (blocks.point_networks), for the mode-collapse studies of points (data/toy-ring, "
                   "data/toy-grid; WGAN-GP's Figure 1 trains its critic on such toys)", choices=("conv", "toy"))

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.arch == "toy":
            self.refuse({"g_norm": "arch = 'toy' has no batch norm to remove"})


def toy_networks(z_dim: int, shape: tuple[int, ...], width: int) -> dict[str, nn.Module]:
    """The 2-D toys' MLPs for a critic that reads and a generator that draws (d, 1, 1) points, as the image
    networks read and draw images: the critic flattens, the generator's d outputs are shaped back."""
    if shape[1:] != (1, 1):
        raise ParamsError(f"arch = 'toy' is for points, fed as (d, 1, 1); the data here are {shape}")
    nets = point_networks(z_dim, shape[0], width)
    return {"generator": nn.Sequential(nets["generator"], nn.Unflatten(1, tuple(shape))),
            "discriminator": nn.Sequential(nn.Flatten(), nets["discriminator"])}


@register("wgan")
class WGAN(DCGAN):
    """WGAN: Wasserstein critic with weight clipping, 5 critic steps, RMSProp (Arjovsky et al., 2017)."""

    Config = WganConfig

    def build(self) -> dict[str, nn.Module]:
        if self.config.arch == "toy":
            return toy_networks(self.config.z_dim, self.data.shape, self.config.width)
        return super().build()

    @property
    def makes_images(self) -> bool:
        return self.config.arch == "conv"

    def points(self, samples: torch.Tensor) -> torch.Tensor | None:
        return None if self.makes_images else samples.flatten(1)

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {role: torch.optim.RMSprop(self.nets[role].parameters(), lr=self.config.lr)
                for role in ("generator", "discriminator")}

    def real_batches_per_step(self, step: int) -> int:
        c = self.config
        heavy = step < c.warmup_steps or (c.refresh_every > 0 and step > 0 and step % c.refresh_every == 0)
        return c.warmup_critic if heavy else c.n_critic

    def batches_before(self, step: int) -> int:
        c = self.config
        first = max(c.warmup_steps, 1)  # refresh steps are the multiples of refresh_every in [first, step)
        refresh = (step - 1) // c.refresh_every - (first - 1) // c.refresh_every if c.refresh_every and step > first else 0
        heavy = min(step, c.warmup_steps) + refresh
        return step * c.n_critic + heavy * (c.warmup_critic - c.n_critic)

    def critic_penalty(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor | None:
        """An extra term of the critic loss (WGAN-GP's gradient penalty); none here."""
        return None

    def after_critic_step(self) -> None:
        with torch.no_grad():
            for p in self.nets["discriminator"].parameters():
                p.clamp_(-self.config.clip, self.config.clip)

    def step(self, x: torch.Tensor, y: torch.Tensor | None, step: int) -> dict[str, float]:
        critic = self.nets["discriminator"]
        out: dict[str, float] = {}
        for real in x.chunk(self.real_batches_per_step(step)):  # a fresh real batch per critic iteration
            with torch.no_grad():
                fake = self.sample(self.noise(len(real)))
            distance = critic(real).mean() - critic(fake).mean()  # the Wasserstein estimate
            loss_c = -distance
            penalty = self.critic_penalty(real, fake)
            if penalty is not None:
                loss_c = loss_c + penalty
                out["gradient_penalty"] = penalty.item()
            self.update("discriminator", loss_c)
            self.after_critic_step()
        loss_g = -critic(self.sample(self.noise(len(real)))).mean()
        self.update("generator", loss_g)
        return {"loss_d": loss_c.item(), "loss_g": loss_g.item(), "wasserstein": distance.item(), **out}
