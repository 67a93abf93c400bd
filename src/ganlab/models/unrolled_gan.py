"""Unrolled GAN: the generator's loss taken against its discriminator K optimizer steps ahead.

Metz, Poole, Pfau & Sohl-Dickstein, "Unrolled Generative Adversarial Networks", ICLR 2017. The
generator minimises the surrogate f_K(theta_G, theta_D) = f(theta_G, theta_D^K(theta_G, theta_D)), where
theta_D^0 = theta_D and theta_D^(k+1) is one step of the discriminator's optimizer from theta_D^k on the
same (real, fake) batch. The paper's main method back-propagates through the unrolled steps, so the
generator also sees how the discriminator would react to its change (the second term of the paper's
gradient); the discriminator's own update is the plain one and does not depend on the unrolling, and the
first unrolled step is that update. The authors' notebook (github.com/poolio/unrolled_gan) unrolls the
discriminator's Adam with its moments carried through the steps, differentiably; so does this file
(with plain SGD for a discriminator given that optimizer), from the optimizer's state at the step.

How it sits on the shared GAN: ``unroll_steps`` is the paper's K, counted from the discriminator before
this step's update (its first step is the update the discriminator actually takes). K = 0 is no
unrolling, and this is where it departs from the paper: the paper's K = 0 row scores the generator
against the discriminator before its update (both players step at once), while ganlab's GAN alternates
(the discriminator steps, then the generator is scored against the updated one, held fixed); K = 0 here
is that GAN step exactly, so the K rows of a study differ from the plain GAN by the unrolling alone. The
generator's loss is GAN's non-saturating -log D(G(z)) against the unrolled discriminator; the paper and
its notebook minimise the saddle objective f itself (log(1 - D(G(z)))). The networks are GAN's
(``arch``: mlp, affine, and whatever GAN builds).

The paper's 2-D mixture of Gaussians (its Figure 1 and Appendix A): K = 10 unrolling steps, Adam with
lr 1e-4 and beta1 0.5 for both networks, z ~ N(0, I_256), batch 512 (``train.batch_size``, the trainer's).
The authors' notebook, which says its settings differ from the paper's, uses K = 5 and a generator lr of 1e-3.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call

from ganlab.models.base import hp
from ganlab.models.gan import GAN, GAN_OPTIONS, GanConfig
from ganlab.models.registry import register


@dataclass(frozen=True)
class UnrolledGanConfig(GanConfig):
    z_dim: int = hp(256, "the paper's 2-D mixture draws z ~ N(0, I_256), as the authors' notebook does", min=1, max=4096)
    lr: float = hp(1e-4, "the paper's Adam step for both networks on the 2-D mixture (its notebook: 1e-3 for G)",
                   min=1e-8, max=1.0)
    beta1: float = hp(0.5, "the paper's Adam beta1 on the 2-D mixture (beta2 stays Adam's 0.999, as in its notebook)",
                      min=0.0, max=0.999)
    unroll_steps: int = hp(10, "K, the discriminator steps the generator looks ahead (the paper's Figure 1: 10; its "
                           "notebook: 5); 0 = the plain GAN step", min=0, max=100)

    #: the lookahead is a step of its own; GAN's options would change the step it unrolls
    not_honoured = dict.fromkeys(GAN_OPTIONS, "Unrolled GAN's step is its own (the generator's loss through the "
                                 "unrolled discriminator); GAN's step options are not part of it")


class _DiscriminatorLogits(nn.Module):
    """The variant's ``d_logits`` as a module that holds the discriminator, so that ``functional_call`` can
    run it with other weights whatever ``d_logits`` does to its input (GAN's MLP flattens images)."""

    def __init__(self, variant: GAN) -> None:
        super().__init__()
        self.discriminator = variant.nets["discriminator"]  # the same module: its weights are what is swapped
        self.logits = variant.d_logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(x)


def _sqrt(v: torch.Tensor) -> torch.Tensor:
    """sqrt(v) whose gradient at v = 0 (a weight that has had only zero gradients) is 0, not inf * 0 = nan."""
    positive = v > 0
    return torch.where(positive, torch.where(positive, v, 1.0).sqrt(), 0.0)


def optimizer_step(optimizer: torch.optim.Optimizer, params: dict[str, torch.Tensor],
                   grads: dict[str, torch.Tensor], state: dict[str, dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """One update of ``optimizer``'s rule on ``params`` as a differentiable function of them and of ``grads``:
    Adam (moments in ``state``, updated in place of the dict's entries) or plain SGD. The same arithmetic as
    torch's in-place step, so the first unrolled step is the discriminator's actual update to rounding."""
    (group,) = optimizer.param_groups  # GAN's optimizers hold one group
    if group.get("weight_decay", 0) or group.get("maximize", False) or group.get("amsgrad", False) \
            or group.get("momentum", 0):
        raise TypeError(f"unrolling knows plain Adam and SGD steps; the discriminator's {type(optimizer).__name__} "
                        "has weight decay, momentum, maximize or amsgrad set")
    lr = group["lr"]
    if isinstance(optimizer, torch.optim.SGD):
        return {n: p - lr * grads[n] for n, p in params.items()}
    if not isinstance(optimizer, torch.optim.Adam):
        raise TypeError(f"unrolling knows plain Adam and SGD steps, not {type(optimizer).__name__}")
    (beta1, beta2), eps, out = group["betas"], group["eps"], {}
    for n, p in params.items():
        s, g = state[n], grads[n]
        s["step"] = s["step"] + 1
        s["exp_avg"] = torch.lerp(s["exp_avg"], g, 1 - beta1)
        s["exp_avg_sq"] = s["exp_avg_sq"] * beta2 + (1 - beta2) * g * g
        t = float(s["step"])
        denom = _sqrt(s["exp_avg_sq"]) / math.sqrt(1 - beta2**t) + eps
        out[n] = p - lr / (1 - beta1**t) * s["exp_avg"] / denom
    return out


@register("unrolled_gan")
class UnrolledGAN(GAN):
    """Unrolled GAN: the generator's loss through K unrolled discriminator steps (Metz et al., 2017)."""

    Config = UnrolledGanConfig

    def lookahead(self, x: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        """theta_D^K: ``unroll_steps`` steps of the discriminator's optimizer from its weights and state now, on
        the batch (x, fake), as a function of ``fake`` (not detached: the generator's gradient runs through
        every step). The discriminator itself is left untouched: the steps act on copies."""
        d, optimizer = self.nets["discriminator"], self.optimizers["discriminator"]
        params = {n: p.detach().clone().requires_grad_(True) for n, p in d.named_parameters()}
        # a copy of the buffers too (batch-norm statistics, if an arch has them): the lookahead's forward
        # passes must not move the real discriminator's
        buffers = {n: b.clone() for n, b in d.named_buffers()}
        state = {}
        for n, p in d.named_parameters():
            s = optimizer.state.get(p, {})
            state[n] = {"step": float(s["step"]) if "step" in s else 0.0,
                        "exp_avg": s["exp_avg"].clone() if "exp_avg" in s else torch.zeros_like(p),
                        "exp_avg_sq": s["exp_avg_sq"].clone() if "exp_avg_sq" in s else torch.zeros_like(p)}
        for _ in range(self.config.unroll_steps):
            loss = self.d_loss(self.d_logits_at(params, buffers, x), self.d_logits_at(params, buffers, fake))
            grads = dict(zip(params, torch.autograd.grad(loss, list(params.values()), create_graph=True)))
            params = optimizer_step(optimizer, params, grads, state)
        return {**params, **buffers}

    def d_logits_at(self, params: dict[str, torch.Tensor], buffers: dict[str, torch.Tensor],
                    x: torch.Tensor) -> torch.Tensor:
        """The discriminator's logits with weights ``params`` (and ``buffers``) in place of its own."""
        weights = {f"discriminator.{n}": t for n, t in {**params, **buffers}.items()}
        return functional_call(_DiscriminatorLogits(self), weights, (x,))

    def step(self, x: torch.Tensor, y: torch.Tensor | None, step: int) -> dict[str, float]:
        if self.config.unroll_steps == 0:
            return super().step(x, y, step)  # no lookahead: GAN's step, exactly
        fake = self.sample(self.noise(len(x)))
        loss_d = self.d_loss(self.d_logits(x), self.d_logits(fake.detach()))  # as GAN's, the same random draws
        ahead = self.lookahead(x, fake)  # from the discriminator before its update, as in the paper
        self.update("discriminator", loss_d)  # the plain update: it does not depend on the unrolling
        loss_g = self.g_loss(self.d_logits_at(ahead, {}, fake))
        self.update("generator", loss_g)
        return {"loss_d": loss_d.item(), "loss_g": loss_g.item()}
