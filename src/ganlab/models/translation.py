"""The unpaired-translation family: what CycleGAN and DiscoGAN share, in a file of its own so that
editing one translator does not touch the other (DVC retrains a run when its code changes).

:class:`UnpairedTranslation` trains two translators between domains A (label 0) and B (label 1) on
unpaired images: it splits each batch by domain label, runs the generators' then the
discriminators' update, keeps a pool of domain-A training images that serves as the "noise" of
samples (its translations are the samples), and draws the translation figures. A subclass
supplies the four networks and its losses.
"""

from __future__ import annotations

import abc
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganlab.errors import GanlabError, ParamsError
from ganlab.models.base import DataSpec, Variant
from ganlab.models.blocks import interleave_rows

FIGURE_COLUMNS = 8  # images per row of the translation figures


class InputPool(nn.Module):
    """A fixed set of domain-A training images, kept as a buffer so that it travels in generator.pt:
    a translator's samples are translations of these (``noise`` picks them, ``sample`` translates)."""

    def __init__(self, size: int, shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.register_buffer("images", torch.zeros(size, *shape))


class UnpairedTranslation(Variant):
    """Two translators between domains A (label 0) and B (label 1), trained on unpaired images."""

    #: the domain labels split the batch; the data need exactly two classes
    labelled = True
    #: both translators and the pool of domain-A inputs make up generator.pt
    generator_roles = ("generator", "generator_ba", "pool")

    def __init__(self, config: Any, data: DataSpec, device: torch.device) -> None:
        if data.n_classes != 2:
            raise ParamsError(
                f"{type(self).name or type(self).__name__} translates between two domains: its data need labels "
                f"0 (domain A) and 1 (domain B), not {data.n_classes} classes; train it on a two-domain dataset "
                "such as 'domains' (stage domains)")
        super().__init__(config, data, device)

    # -- what a translator supplies

    @abc.abstractmethod
    def build_translators(self) -> dict[str, nn.Module]:
        """generator (A -> B), generator_ba (B -> A), discriminator_a, discriminator_b."""

    @abc.abstractmethod
    def adversarial_g(self, fake_out: torch.Tensor) -> torch.Tensor:
        """A generator's adversarial loss on the discriminator's outputs for its translations."""

    @abc.abstractmethod
    def adversarial_d(self, real_out: torch.Tensor | None, fake_out: torch.Tensor | None) -> torch.Tensor:
        """A discriminator's loss; either part is None when the batch had no image for it."""

    @abc.abstractmethod
    def reconstruction(self, reconstructed: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The distance between an image and its round trip (unweighted)."""

    @property
    @abc.abstractmethod
    def reconstruction_weight(self) -> float:
        """The weight of the reconstruction terms in the generators' loss."""

    @property
    def identity_weight(self) -> float:
        """Weight of |G(b) - b| + |F(a) - a| in the generators' loss (CycleGAN's identity loss)."""
        return 0.0

    def discriminator_fakes(self, domain: str, fakes: torch.Tensor) -> torch.Tensor:
        """The fakes of ``domain`` ("a" or "b") that its discriminator learns from (CycleGAN: a history)."""
        return fakes

    def schedule(self, step: int) -> None:
        """Set the learning rates for step ``step`` (CycleGAN's linear decay); nothing by default."""

    # -- the Variant API

    def build(self) -> dict[str, nn.Module]:
        return {**self.build_translators(), "pool": InputPool(self.config.pool_size, self.data.shape)}

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """One Adam over both generators and one over both discriminators, as the authors' code has it
        (Adam is per parameter, so this equals one optimizer per network)."""
        c = self.config
        betas, decay = (c.beta1, 0.999), getattr(c, "weight_decay", 0.0)
        return {
            role: torch.optim.Adam([*self.nets[first].parameters(), *self.nets[second].parameters()],
                                   lr=c.lr, betas=betas, weight_decay=decay)
            for role, first, second in (("generator", "generator", "generator_ba"),
                                        ("discriminator", "discriminator_a", "discriminator_b"))
        }

    def prepare(self, images: torch.Tensor, labels: torch.Tensor | None, seed: int) -> None:
        """Fill the pool with domain-A training images: a permutation drawn from ``seed``, repeated
        when domain A has fewer images than the pool."""
        if labels is None:
            raise GanlabError(f"{self.name}: needs the domain labels of the training images")
        domain_a = torch.nonzero(labels == 0).flatten()
        if len(domain_a) == 0:
            raise GanlabError(f"{self.name}: the training set has no domain-A image (label 0)")
        g = torch.Generator().manual_seed(seed)
        order = domain_a[torch.randperm(len(domain_a), generator=g)]
        picked = order.repeat(math.ceil(self.config.pool_size / len(order)))[: self.config.pool_size]
        self.nets["pool"].images.copy_(images[picked].to(self.device))

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """The code of a translation is its input: indices (n,) into the pool of domain-A images,
        distinct while n <= pool_size."""
        size = self.config.pool_size
        order = torch.cat([torch.randperm(size, generator=generator) for _ in range(math.ceil(n / size))])
        return order[:n].to(self.device)

    def sample(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """G(a) for the pool images indexed by z, or for domain-A images z of shape (n, C, H, W)."""
        a = z if z.is_floating_point() else self.nets["pool"].images[z]
        if tuple(a.shape[1:]) != tuple(self.data.shape):
            raise ValueError(f"sample takes pool indices (n,) or images (n, {', '.join(map(str, self.data.shape))}); "
                             f"got {tuple(z.shape)}")
        return self.nets["generator"](a)

    def split(self, x: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(images of domain A, images of domain B); either may be empty."""
        if y is None:
            raise GanlabError(f"{self.name}: a translator needs the domain label of every image (0 = A, 1 = B)")
        return x[y == 0], x[y == 1]

    def step(self, x: torch.Tensor, y: torch.Tensor | None, step: int) -> dict[str, float]:
        """Generators first (discriminators frozen), then the discriminators on the detached fakes, as
        in the CycleGAN code. A domain missing from the batch drops the terms that need it."""
        a, b = self.split(x, y)
        self.schedule(step)
        n = self.nets
        g_ab, g_ba, d_a, d_b = n["generator"], n["generator_ba"], n["discriminator_a"], n["discriminator_b"]
        logs: dict[str, torch.Tensor] = {}
        g_terms, fake_a, fake_b = [], None, None
        for d in (d_a, d_b):  # G's loss needs no gradient for D's weights
            d.requires_grad_(False)
        if len(a):
            fake_b = g_ab(a)
            logs["loss_g_ab"] = self.adversarial_g(d_b(fake_b))
            logs["loss_cycle_a"] = self.reconstruction(g_ba(fake_b), a)
            g_terms += [logs["loss_g_ab"], self.reconstruction_weight * logs["loss_cycle_a"]]
        if len(b):
            fake_a = g_ba(b)
            logs["loss_g_ba"] = self.adversarial_g(d_a(fake_a))
            logs["loss_cycle_b"] = self.reconstruction(g_ab(fake_a), b)
            g_terms += [logs["loss_g_ba"], self.reconstruction_weight * logs["loss_cycle_b"]]
        if self.identity_weight:
            same = [F.l1_loss(g_ab(b), b)] if len(b) else []
            same += [F.l1_loss(g_ba(a), a)] if len(a) else []
            logs["loss_identity"] = sum(same)
            g_terms.append(self.identity_weight * logs["loss_identity"])
        loss_g = sum(g_terms)
        self.update("generator", loss_g)
        for d in (d_a, d_b):
            d.requires_grad_(True)
        d_terms = []
        for domain, critic, real, fake in (("a", d_a, a, fake_a), ("b", d_b, b, fake_b)):
            real_out = critic(real) if len(real) else None
            fake_out = critic(self.discriminator_fakes(domain, fake.detach())) if fake is not None else None
            logs[f"loss_d_{domain}"] = self.adversarial_d(real_out, fake_out)
            d_terms.append(logs[f"loss_d_{domain}"])
        loss_d = sum(d_terms)
        self.update("discriminator", loss_d)
        names = ["loss_g", "loss_d", *logs]
        values = torch.stack([v.detach().float() for v in (loss_g, loss_d, *logs.values())])
        return dict(zip(names, values.tolist()))  # one device sync for all the losses

    @torch.no_grad()
    def figures(self, real: torch.Tensor, labels: torch.Tensor | None) -> dict[str, tuple[torch.Tensor, int]]:
        """cycle_ab: bands of three rows, real a / G(a) / F(G(a)); cycle_ba: b / F(b) / G(F(b)).
        Up to 8 images a row; a direction whose domain is not in ``real`` is left out."""
        if labels is None:
            return {}
        grids = {}
        forward = {"ab": (self.nets["generator"], self.nets["generator_ba"]),
                   "ba": (self.nets["generator_ba"], self.nets["generator"])}
        for domain, name in enumerate(("ab", "ba")):
            x = real[labels == domain]
            if len(x) == 0:
                continue
            there, back = forward[name]
            fake = there(x)
            grids[f"cycle_{name}"] = interleave_rows(x, fake, back(fake), per_row=FIGURE_COLUMNS)
        return grids
