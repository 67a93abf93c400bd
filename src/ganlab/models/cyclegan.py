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

The two-domain machinery it shares with DiscoGAN (the batch split by domain label, the update
order, the pool of domain-A images behind ``sample``, the translation figures) is
:class:`ganlab.models.translation.UnpairedTranslation`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganlab.errors import ParamsError
from ganlab.models.base import hp
from ganlab.models.blocks import InstanceNormResidualBlock, dcgan_init
from ganlab.models.registry import register
from ganlab.models.translation import UnpairedTranslation


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


# --------------------------------------------------------------------------- CycleGAN's networks


def resnet_generator(channels: int, width: int, n_blocks: int) -> nn.Sequential:
    """c7s1-w, d2w, d4w, R4w x n_blocks, u2w, uw, c7s1-channels, tanh: (B, C, H, W) -> (B, C, H, W), H and W
    divisible by 4. Instance norm without affine parameters, as the authors' code; weights ~ N(0, 0.02)."""
    layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(channels, width, 7, bias=False),
                               nn.InstanceNorm2d(width), nn.ReLU(True)]
    c = width
    for _ in range(2):  # (B, c, H, W) -> (B, 2c, H/2, W/2)
        layers += [nn.Conv2d(c, 2 * c, 3, 2, 1, bias=False), nn.InstanceNorm2d(2 * c), nn.ReLU(True)]
        c *= 2
    layers += [InstanceNormResidualBlock(c) for _ in range(n_blocks)]
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
