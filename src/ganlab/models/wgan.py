"""WGAN: a critic estimating the Wasserstein-1 distance, kept Lipschitz by weight clipping.

Arjovsky, Chintala & Bottou, "Wasserstein GAN", ICML 2017 (Algorithm 1): the critic has no
sigmoid and maximises E[f(x)] - E[f(G(z))]; after every critic update its weights are clipped
to [-c, c] with c = 0.01; 5 critic iterations, each on a fresh real batch, per generator step;
RMSProp with lr 5e-5 (momentum-based optimisers were unstable in the paper).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ganlab.models.base import hp
from ganlab.models.dcgan import DCGAN, DcganConfig
from ganlab.models.registry import register


@dataclass(frozen=True)
class WganConfig(DcganConfig):
    lr: float = hp(5e-5, "the paper's RMSProp step", min=1e-8, max=1.0)
    clip: float = hp(0.01, "weight clipping bound c", min=1e-6, max=10.0)
    n_critic: int = hp(5, "critic iterations per generator step, each on a fresh real batch", min=1, max=100)


@register("wgan")
class WGAN(DCGAN):
    """WGAN: Wasserstein critic with weight clipping, 5 critic steps, RMSProp (Arjovsky et al., 2017)."""

    Config = WganConfig

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {role: torch.optim.RMSprop(self.nets[role].parameters(), lr=self.config.lr)
                for role in ("generator", "discriminator")}

    def real_batches_per_step(self) -> int:
        return self.config.n_critic

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
        for real in x.chunk(self.config.n_critic):  # a fresh real batch per critic iteration
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
