"""CycleGAN: unpaired image-to-image translation kept invertible by cycle consistency (Zhu et al., 2017).

Zhu, Park, Isola & Efros, "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial
Networks", ICCV 2017. Two generators, G: A -> B and F: B -> A, and two discriminators, D_B (real B
against G(a)) and D_A, learn from images of two domains of which none are paired:

- least-squares adversarial losses (LSGAN): D_B minimises 1/2 [(D_B(b) - 1)^2 + D_B(G(a))^2] (the
  paper halves D's objective to slow it down), G minimises (D_B(G(a)) - 1)^2; D_A and F alike;
- cycle consistency: lambda (|F(G(a)) - a|_1 + |G(F(b)) - b|_1) with lambda = 10, so that each
  translation can be undone and G cannot map every a to the same plausible b;
- an optional identity loss, lambda_identity * lambda * (|G(b) - b|_1 + |F(a) - a|_1): the paper
  used lambda_identity = 0.5 for painting <-> photo, to keep colours; 0 (off) elsewhere;
- ResNet generators (c7s1-64, d128, d256, 6 or 9 residual blocks, u128, u64, c7s1-3) and 70x70
  PatchGAN discriminators (C64-C128-C256-C512), with instance norm and no norm on D's first layer;
- D learns from a history of the 50 last generated images, not only the newest (Shrivastava et
  al., 2017): each new fake is returned half the time, else swapped for a stored one;
- Adam, lr 2e-4, beta1 0.5, batch 1; constant lr for 100 epochs, then linear decay to 0 over 100.

Scaled down for 28 px images: the two stride-2 steps take 28 px to 7 (128 to 32 in the paper); the
PatchGAN with one stride-2 layer judges 16x16 patches of a 28 px image, about the share of the
paper's 70 px patches in its 128 px images (``patch_layers: 3`` is the 70x70 one, for 128 px and
up). Widths and block count are params. The linear decay is ``lr_decay_start``/``lr_decay_end``
(off by default: the variant does not know the run length). The history buffer is part of the
variant's state (its buffers are in ``nets``), so a resumed run equals an uninterrupted one.

This module also holds :class:`UnpairedTranslation`, the two-domain machinery that DiscoGAN
shares: the batch split by domain label, the update order, the pool of domain-A images that
serves as the "noise" of samples, and the translation figures.
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganlab.errors import GanlabError, ParamsError
from ganlab.models.base import DataSpec, Variant, hp
from ganlab.models.blocks import dcgan_init, interleave_rows
from ganlab.models.registry import register

FIGURE_COLUMNS = 8  # images per row of the translation figures


# --------------------------------------------------------------------------- shared by both translators


class InputPool(nn.Module):
    """A fixed set of domain-A training images, kept as a buffer so that it travels in generator.pt:
    a translator's samples are translations of these (``noise`` picks them, ``sample`` translates)."""

    def __init__(self, size: int, shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.register_buffer("images", torch.zeros(size, *shape))


class ImageHistory(nn.Module):
    """The last ``capacity`` generated images of one domain (Shrivastava et al., 2017; CycleGAN's D).

    ``query`` takes a batch of new fakes and returns what the discriminator sees: while the history
    fills, the fakes themselves (each stored); then, for each fake, with probability 1/2 a stored
    image, which the fake replaces, else the fake itself. Buffers, so checkpoints carry them.
    """

    def __init__(self, capacity: int, shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.capacity = capacity
        self.register_buffer("images", torch.zeros(capacity, *shape))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def query(self, fakes: torch.Tensor) -> torch.Tensor:
        if self.capacity == 0:
            return fakes
        out = fakes.clone()
        coin = (torch.rand(len(fakes)) < 0.5).tolist()  # drawn for every image, full or not: one RNG stream
        slot = torch.randint(self.capacity, (len(fakes),)).tolist()
        count = int(self.count)
        for i in range(len(fakes)):
            if count < self.capacity:
                self.images[count] = fakes[i]
                count += 1
            elif coin[i]:
                out[i] = self.images[slot[i]]
                self.images[slot[i]] = fakes[i]
        self.count.fill_(count)
        return out


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


# --------------------------------------------------------------------------- CycleGAN's networks


class ResidualBlock(nn.Module):
    """x + (reflect-pad, conv3, IN, ReLU, reflect-pad, conv3, IN)(x): the paper's R-k block."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=False), nn.InstanceNorm2d(channels),
            nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=False), nn.InstanceNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def resnet_generator(channels: int, width: int, n_blocks: int) -> nn.Sequential:
    """c7s1-w, d2w, d4w, R4w x n_blocks, u2w, uw, c7s1-channels, tanh: (B, C, H, W) -> (B, C, H, W), H and W
    divisible by 4. Instance norm without affine parameters, as the authors' code; weights ~ N(0, 0.02)."""
    layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(channels, width, 7, bias=False),
                               nn.InstanceNorm2d(width), nn.ReLU(True)]
    c = width
    for _ in range(2):  # (B, c, H, W) -> (B, 2c, H/2, W/2)
        layers += [nn.Conv2d(c, 2 * c, 3, 2, 1, bias=False), nn.InstanceNorm2d(2 * c), nn.ReLU(True)]
        c *= 2
    layers += [ResidualBlock(c) for _ in range(n_blocks)]
    for _ in range(2):  # (B, c, h, w) -> (B, c/2, 2h, 2w)
        layers += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1, bias=False), nn.InstanceNorm2d(c // 2),
                   nn.ReLU(True)]
        c //= 2
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(c, channels, 7), nn.Tanh()]
    net = nn.Sequential(*layers)
    net.apply(dcgan_init)
    return net


def patch_side(size: int, layers: int) -> int:
    """Side of the PatchGAN's output map for a ``size`` px input."""
    for _ in range(layers):
        size //= 2  # conv 4x4, stride 2, padding 1
    return size - 2  # two more 4x4 convolutions with stride 1, padding 1


def patch_discriminator(channels: int, width: int, layers: int) -> nn.Sequential:
    """PatchGAN: C(w, stride 2, no norm), then ``layers - 1`` stride-2 and one stride-1 conv with IN,
    channels doubling up to 8w, then a 1-channel conv: a real/fake score per overlapping patch,
    (B, C, H, W) -> (B, 1, h, w). Receptive field 16, 34, 70 px for 1, 2, 3 layers."""
    mods: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
    c = width
    for k in range(1, layers + 1):
        out, stride = width * min(2**k, 8), 2 if k < layers else 1
        mods += [nn.Conv2d(c, out, 4, stride, 1, bias=False), nn.InstanceNorm2d(out), nn.LeakyReLU(0.2, True)]
        c = out
    mods.append(nn.Conv2d(c, 1, 4, 1, 1))
    net = nn.Sequential(*mods)
    net.apply(dcgan_init)
    return net


def lsgan_d_loss(real_out: torch.Tensor | None, fake_out: torch.Tensor | None) -> torch.Tensor:
    """1/2 [mean (D(real) - 1)^2 + mean D(fake)^2]; a missing part counts 0."""
    parts = [((real_out - 1) ** 2).mean()] if real_out is not None else []
    parts += [(fake_out**2).mean()] if fake_out is not None else []
    return 0.5 * sum(parts)


def lsgan_g_loss(fake_out: torch.Tensor) -> torch.Tensor:
    """mean (D(G(x)) - 1)^2: the generator wants its fakes scored as real."""
    return ((fake_out - 1) ** 2).mean()


@dataclass(frozen=True)
class CycleganConfig:
    width: int = hp(64, "feature maps of the first layer of G and D (the paper's 64); doubled at each stride-2 step",
                    min=1, max=1024)
    n_blocks: int = hp(6, "residual blocks at 1/4 resolution (the paper: 6 at 128 px, 9 at 256 px)", min=0, max=64)
    patch_layers: int = hp(1, "stride-2 layers of the PatchGAN: 1 judges 16 px patches (for 28-32 px images), "
                              "3 is the paper's 70 px one (128 px and up)", min=1, max=6)
    lambda_cycle: float = hp(10.0, "weight of the cycle-consistency L1 terms (the paper's lambda = 10)",
                             min=0.0, max=1000.0)
    lambda_identity: float = hp(0.0, "identity-loss weight as a fraction of lambda_cycle (the paper: 0.5 for "
                                     "painting <-> photo, to keep colours; 0 = off, as for its other tasks)",
                                min=0.0, max=100.0)
    history: int = hp(50, "generated images per domain kept for D, half its fakes drawn from them (the paper's 50; "
                          "0 = newest fakes only)", min=0, max=100000)
    lr: float = hp(2e-4, "the paper's Adam step, both G and D", min=1e-8, max=1.0)
    beta1: float = hp(0.5, "the paper's Adam beta1", min=0.0, max=0.999)
    lr_decay_start: int = hp(0, "step at which lr starts falling linearly to 0 (the paper: half-way); "
                                "only with lr_decay_end", min=0, max=10**9)
    lr_decay_end: int = hp(0, "step at which lr reaches 0 (the paper: the last); 0 = constant lr", min=0, max=10**9)
    pool_size: int = hp(256, "domain-A training images stored in generator.pt; the samples are their translations",
                        min=1, max=100000)

    def __post_init__(self) -> None:
        if self.lr_decay_end and self.lr_decay_end <= self.lr_decay_start:
            raise ParamsError(f"lr_decay_end = {self.lr_decay_end} must come after lr_decay_start = "
                              f"{self.lr_decay_start} (or be 0 for a constant lr)")


@register("cyclegan")
class CycleGAN(UnpairedTranslation):
    """CycleGAN: unpaired A <-> B translation, LSGAN losses plus cycle-consistency L1 (Zhu et al., 2017)."""

    Config = CycleganConfig

    def build_translators(self) -> dict[str, nn.Module]:
        c, (channels, size, _) = self.config, self.data.shape
        if size % 4:
            raise ParamsError(f"cyclegan's generator halves the image twice: the side must be divisible by 4, not {size}")
        if patch_side(size, c.patch_layers) < 1:
            raise ParamsError(f"patch_layers = {c.patch_layers} leaves no patch of a {size} px image; use fewer")
        history = {f"history_{d}": ImageHistory(c.history, self.data.shape) for d in ("a", "b")}
        return {
            "generator": resnet_generator(channels, c.width, c.n_blocks),
            "generator_ba": resnet_generator(channels, c.width, c.n_blocks),
            "discriminator_a": patch_discriminator(channels, c.width, c.patch_layers),
            "discriminator_b": patch_discriminator(channels, c.width, c.patch_layers),
            **history,
        }

    def adversarial_g(self, fake_out: torch.Tensor) -> torch.Tensor:
        return lsgan_g_loss(fake_out)

    def adversarial_d(self, real_out: torch.Tensor | None, fake_out: torch.Tensor | None) -> torch.Tensor:
        return lsgan_d_loss(real_out, fake_out)

    def reconstruction(self, reconstructed: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return F.l1_loss(reconstructed, x)

    @property
    def reconstruction_weight(self) -> float:
        return self.config.lambda_cycle

    @property
    def identity_weight(self) -> float:
        return self.config.lambda_identity * self.config.lambda_cycle

    def discriminator_fakes(self, domain: str, fakes: torch.Tensor) -> torch.Tensor:
        return self.nets[f"history_{domain}"].query(fakes)

    def learning_rate(self, step: int) -> float:
        """lr until lr_decay_start, then falling linearly to 0 at lr_decay_end."""
        c = self.config
        if not c.lr_decay_end or step <= c.lr_decay_start:
            return c.lr
        return c.lr * max(0.0, (c.lr_decay_end - step) / (c.lr_decay_end - c.lr_decay_start))

    def schedule(self, step: int) -> None:
        lr = self.learning_rate(step)
        for optimizer in self.optimizers.values():
            for group in optimizer.param_groups:
                group["lr"] = lr
