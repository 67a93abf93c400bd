"""ProGAN: a generator and critic grown from 4x4 to the data's size, each new resolution faded in.

Karras, Aila, Laine & Lehtinen, "Progressive Growing of GANs for Improved Quality, Stability,
and Variation", ICLR 2018. The mechanisms kept here:

- progressive growing: training starts at a low resolution (4x4; 7x7 for 28 px data) and the
  resolution doubles until it reaches the data's. Each new resolution is first faded in: for
  ``phase_steps`` steps the generator's output is (1 - alpha) * upsample(toRGB of the old
  resolution) + alpha * toRGB(new block), and the critic mirrors it, with alpha rising linearly
  from 0 to 1; then the grown networks train alone for ``phase_steps`` stable steps. The real
  images are downsampled (average pooling) to the current resolution and blended the same way
  during a fade (the authors' code), so the critic never tells real from fake by sharpness alone.
  The growth state is a function of the step; the generator keeps it in buffers, so a
  checkpoint and the exported generator.pt sample at the resolution training had reached.
- equalized learning rate: every weight is drawn from N(0, 1) and multiplied at run time by
  He's constant sqrt(2 / fan_in), so Adam's step is the same relative change for every layer;
- pixelwise feature normalization after every generator convolution (and on the latent);
- a minibatch standard-deviation layer before the critic's last block: one feature map holding
  the average over features and positions of the per-feature std over the minibatch;
- WGAN-GP loss (lambda 10) plus the drift term eps_drift * E[D(x)^2] (eps_drift 0.001), one
  critic step per generator step, Adam lr 1e-3 with betas (0, 0.99), Adam's state reset at
  every phase change (the authors' code);
- the paper's networks: 3x3 convolutions, LeakyReLU 0.2, nearest upsampling, average-pool
  downsampling, 1x1 toRGB/fromRGB layers, a linear generator output (``sample`` clamps it to
  [-1, 1]), feature maps ``width`` (512) up to 32 px, halved at every doubling above
  (``halve_above``: a CPU profile halves them from a lower side on, to keep each doubling's cost flat).

Simplified: one batch size at every resolution (the paper shrinks it as images grow, to fit
memory); the minibatch std is taken over the whole minibatch, as the paper's text says (its
code takes it over groups of 4); no exponential moving average of the generator's weights
(the paper uses one, decay 0.999, only to draw its figures: at the CPU profile's length it
would average over several growth phases).

Short runs need a larger step. With equalized learning rate every weight moves by about lr of
its unit scale per Adam step, so a phase must last ~1/lr steps to leave its initialisation:
the paper's phases are 12,500 steps at lr 1e-3, the CPU profile's 200. On CIFAR-10 with the
CPU profile's networks, lr 1e-3 left the 4x4 samples as saturated noise after 200 steps and
collapsed them to one image during the 8x8 fade-in; 1e-2 learnt every phase up to 16x16 and
then collapsed at 32x32; 5e-3 gave varied sky/grass/object scenes at 32x32 (the authors'
code lists lr 1e-4 to 1e-2 among its settings).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganlab.errors import ParamsError
from ganlab.models.base import DataSpec, Phase, Variant, hp
from ganlab.models.losses import gradient_penalty
from ganlab.models.registry import register


@dataclass(frozen=True)
class ProganConfig:
    z_dim: int = hp(512, "latent size, the paper's 512; the latent is normalised (pixel norm) before the first layer",
                    min=1, max=4096)
    width: int = hp(512, "feature maps at the low resolutions, the paper's 512", min=1, max=1024)
    halve_above: int = hp(32, "feature maps are halved at every doubling of the side above this one: the paper's "
                              "32 (512 maps up to 32x32, 256 at 64, ... 16 at 1024)", min=1, max=4096)
    start: int = hp(4, "smallest side to grow from: the data's side is halved while it stays even and at least this "
                       "(the paper's 4x4; 28 px data then start at 7x7)", min=1, max=4096)
    phase_steps: int = hp(12500, "steps of every fade-in and every stable phase: the paper's 800k real images at "
                                 "batch 64", min=1, max=10**9)
    lr: float = hp(1e-3, "the paper's Adam step", min=1e-8, max=1.0)
    beta1: float = hp(0.0, "the paper's Adam betas (0, 0.99)", min=0.0, max=0.999)
    beta2: float = hp(0.99, "the paper's Adam betas (0, 0.99)", min=0.0, max=0.9999)
    gp_weight: float = hp(10.0, "lambda, the WGAN-GP gradient penalty's weight", min=0.0, max=1e4)
    drift: float = hp(1e-3, "eps_drift: weight of E[D(x)^2] on real images, keeps the critic's output from drifting "
                            "far from zero", min=0.0, max=10.0)


def growth_sides(side: int, start: int) -> list[int]:
    """The resolutions training grows through, smallest first: 32 -> [4, 8, 16, 32], 28 -> [7, 14, 28]."""
    sides = [side]
    while sides[-1] % 2 == 0 and sides[-1] // 2 >= start:
        sides.append(sides[-1] // 2)
    return sides[::-1]


def feature_maps(side: int, width: int, halve_above: int) -> int:
    """Feature maps at a resolution: ``width`` up to the side ``halve_above``, halved at every doubling above."""
    return max(1, min(width, width * halve_above // side))


class EqualizedConv2d(nn.Module):
    """A convolution with N(0, 1) weights scaled at run time by gain / sqrt(fan_in) (He's constant for gain sqrt 2)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, padding: int = 0, gain: float = math.sqrt(2)) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.scale = gain / math.sqrt(c_in * kernel * kernel)
        self.padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class EqualizedLinear(nn.Module):
    """A linear layer with N(0, 1) weights scaled at run time by gain / sqrt(fan_in)."""

    def __init__(self, c_in: int, c_out: int, gain: float = math.sqrt(2)) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in))
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.scale = gain / math.sqrt(c_in)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


class PixelNorm(nn.Module):
    """Each pixel's feature vector divided by its root mean square over the channels (dim 1)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class MinibatchStdDev(nn.Module):
    """Appends one feature map: the std over the minibatch of every feature at every position, averaged to one value.

    (B, C, H, W) -> (B, C + 1, H, W). A critic that sees it can tell a batch of near-identical
    fakes from a varied real batch, which pushes the generator towards variation.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        std = (x.var(dim=0, unbiased=False) + 1e-8).sqrt().mean()  # (C, H, W) -> ()
        b, _, h, w = x.shape
        return torch.cat([x, std.to(x.dtype).expand(b, 1, h, w)], dim=1)


def lrelu() -> nn.Module:
    return nn.LeakyReLU(0.2)


class ProgressiveGenerator(nn.Module):
    """z -> image at the resolution ``sides[level]``, the newest block faded in by ``alpha``.

    The growth state the samples are drawn at lives in the buffers ``level`` and ``alpha``, so
    it is saved with the weights.
    """

    def __init__(self, z_dim: int, channels: int, sides: list[int], maps: list[int]) -> None:
        super().__init__()
        s0, c0 = sides[0], maps[0]
        self.first = nn.Sequential(  # the paper's 4x4 convolution on the 1x1 latent, as a dense layer; its
            PixelNorm(),             # He constant counts the s0 x s0 kernel, hence gain sqrt(2) / s0
            EqualizedLinear(z_dim, c0 * s0 * s0, gain=math.sqrt(2) / s0), nn.Unflatten(1, (c0, s0, s0)),
            lrelu(), PixelNorm(),
            EqualizedConv2d(c0, c0, 3, 1), lrelu(), PixelNorm(),
        )
        self.blocks = nn.ModuleList()  # blocks[k - 1]: (B, c(s/2), s/2, s/2) -> (B, c(s), s, s), s = sides[k]
        for c_in, c_out in zip(maps, maps[1:]):
            self.blocks.append(nn.Sequential(
                nn.Upsample(scale_factor=2, mode="nearest"),
                EqualizedConv2d(c_in, c_out, 3, 1), lrelu(), PixelNorm(),
                EqualizedConv2d(c_out, c_out, 3, 1), lrelu(), PixelNorm(),
            ))
        self.to_rgb = nn.ModuleList(EqualizedConv2d(c, channels, 1, gain=1.0) for c in maps)
        self.register_buffer("level", torch.tensor(0))
        self.register_buffer("alpha", torch.tensor(1.0))

    def set_growth(self, level: int, alpha: float) -> None:
        self.level.fill_(level)
        self.alpha.fill_(alpha)

    def forward(self, z: torch.Tensor, level: int | None = None, alpha: float | None = None) -> torch.Tensor:
        if level is None or alpha is None:  # the stored growth state
            level, alpha = int(self.level), float(self.alpha)
        h = self.first(z)
        skip = None
        for k in range(1, level + 1):
            if k == level and alpha < 1:  # the old resolution's image, upsampled: what the new block fades over
                skip = F.interpolate(self.to_rgb[k - 1](h), scale_factor=2, mode="nearest")
            h = self.blocks[k - 1](h)
        out = self.to_rgb[level](h)  # linear output, no tanh (the paper)
        return out if skip is None else torch.lerp(skip, out, alpha)


class ProgressiveCritic(nn.Module):
    """Image at ``sides[level]`` -> (B, 1) score, the newest block faded in by ``alpha``; mirrors the generator."""

    def __init__(self, channels: int, sides: list[int], maps: list[int]) -> None:
        super().__init__()
        s0, c0 = sides[0], maps[0]
        self.from_rgb = nn.ModuleList(
            nn.Sequential(EqualizedConv2d(channels, c, 1), lrelu()) for c in maps)
        self.blocks = nn.ModuleList()  # blocks[k - 1]: (B, c(s), s, s) -> (B, c(s/2), s/2, s/2), s = sides[k]
        for c_out, c_in in zip(maps, maps[1:]):
            self.blocks.append(nn.Sequential(
                EqualizedConv2d(c_in, c_in, 3, 1), lrelu(),
                EqualizedConv2d(c_in, c_out, 3, 1), lrelu(),
                nn.AvgPool2d(2),
            ))
        self.final = nn.Sequential(
            MinibatchStdDev(),  # (B, c0, s0, s0) -> (B, c0 + 1, s0, s0)
            EqualizedConv2d(c0 + 1, c0, 3, 1), lrelu(),
            EqualizedConv2d(c0, c0, s0), lrelu(),  # (B, c0, s0, s0) -> (B, c0, 1, 1)
            nn.Flatten(), EqualizedLinear(c0, 1, gain=1.0),
        )

    def forward(self, x: torch.Tensor, level: int, alpha: float) -> torch.Tensor:
        h = self.from_rgb[level](x)
        if level > 0:
            h = self.blocks[level - 1](h)
            if alpha < 1:  # the old input layer on the downsampled image, faded out as the new block fades in
                h = torch.lerp(self.from_rgb[level - 1](F.avg_pool2d(x, 2)), h, alpha)
            for k in range(level - 1, 0, -1):
                h = self.blocks[k - 1](h)
        return self.final(h)


@register("progan")
class ProGAN(Variant):
    """ProGAN: progressive growing with fade-in, equalized lr, pixel norm, minibatch std (Karras et al., 2018)."""

    Config = ProganConfig

    @classmethod
    def phases(cls, config: ProganConfig, data: DataSpec | None = None) -> list[Phase]:
        """The first side stable, then a fade-in and a stable phase per doubling, ``phase_steps`` each;
        the last, the data's side stable, lasts to the end. How many there are follows from the data's
        side: before the data are read, one phase of growth to the end."""
        if data is None:
            return [Phase("growth", None)]
        sides = growth_sides(data.shape[-1], config.start)
        plan = [Phase(f"{sides[0]}px", config.phase_steps)]
        for side in sides[1:]:
            plan += [Phase(f"{side}px fade-in", config.phase_steps), Phase(f"{side}px", config.phase_steps)]
        return [*plan[:-1], Phase(plan[-1].name, None)]

    def build(self) -> dict[str, nn.Module]:
        c, (channels, height, width) = self.config, self.data.shape
        if height != width:
            raise ParamsError(f"progan grows square images; the data are {height}x{width}")
        self.sides = growth_sides(height, c.start)  # the schedule below indexes these
        maps = [feature_maps(side, c.width, c.halve_above) for side in self.sides]
        return {
            "generator": ProgressiveGenerator(c.z_dim, channels, self.sides, maps),
            "discriminator": ProgressiveCritic(channels, self.sides, maps),
        }

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        return {role: torch.optim.Adam(self.nets[role].parameters(), lr=c.lr, betas=(c.beta1, c.beta2), eps=1e-8)
                for role in ("generator", "discriminator")}

    # ------------------------------------------------------------------ the growth schedule

    def phase(self, step: int) -> int:
        """0: the first resolution, stable; 2k - 1: resolution k fading in; 2k: resolution k stable.

        The last phase, the data's resolution stable, lasts to the end of training."""
        return min(step // self.config.phase_steps, 2 * (len(self.sides) - 1))

    def growth(self, step: int) -> tuple[int, float]:
        """(level, alpha) at ``step``: the resolution ``sides[level]`` and how far its newest block has faded in.

        During a fade alpha rises linearly through (0, 1), (r + 1) / (phase_steps + 1) at the
        fade's r-th step, so every fade step trains both paths; it is 1 in stable phases."""
        phase = self.phase(step)
        if phase % 2 == 0:
            return phase // 2, 1.0
        r = step - phase * self.config.phase_steps
        return (phase + 1) // 2, (r + 1) / (self.config.phase_steps + 1)

    def real_at(self, x: torch.Tensor, level: int, alpha: float) -> torch.Tensor:
        """Real images as the critic sees them at (level, alpha): average-pooled to ``sides[level]`` and,
        during a fade, blended with their upsampled half-resolution version, as the fakes are."""
        x = F.avg_pool2d(x, x.shape[-1] // self.sides[level])
        if level > 0 and alpha < 1:
            x = torch.lerp(F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest"), x, alpha)
        return x

    def full_size(self, images: torch.Tensor) -> torch.Tensor:
        """Nearest upsampling to the data's side."""
        factor = self.data.shape[-1] // images.shape[-1]
        return images if factor == 1 else F.interpolate(images, scale_factor=factor, mode="nearest")

    # ------------------------------------------------------------------ training

    def critic_losses(self, real: torch.Tensor, fake: torch.Tensor, level: int,
                      alpha: float) -> dict[str, torch.Tensor]:
        """The critic's WGAN-GP loss with the drift term, and its parts."""
        critic = functools.partial(self.nets["discriminator"], level=level, alpha=alpha)
        real_scores, fake_scores = critic(real), critic(fake)
        wasserstein = real_scores.mean() - fake_scores.mean()
        penalty = gradient_penalty(critic, real, fake)
        drift = real_scores.pow(2).mean()
        loss = -wasserstein + self.config.gp_weight * penalty + self.config.drift * drift
        return {"loss_d": loss, "wasserstein": wasserstein, "gradient_penalty": penalty, "drift": drift}

    def step(self, x: torch.Tensor, y: torch.Tensor | None, step: int) -> dict[str, float]:
        level, alpha = self.growth(step)
        if step > 0 and self.phase(step) != self.phase(step - 1):
            for optimizer in self.optimizers.values():  # new layers, new blend: Adam starts afresh (the authors' code)
                optimizer.state.clear()
        generator, critic = self.nets["generator"], self.nets["discriminator"]
        generator.set_growth(level, alpha)  # what sample() and the exported generator draw at
        real = self.real_at(x, level, alpha)
        fake = generator(self.noise(len(x)), level, alpha)
        terms = self.critic_losses(real, fake.detach(), level, alpha)
        self.update("discriminator", terms["loss_d"])
        loss_g = -critic(fake, level, alpha).mean()  # G is unchanged since fake was drawn: no second forward
        self.update("generator", loss_g)
        return {**{k: v.item() for k, v in terms.items()}, "loss_g": loss_g.item(),
                "resolution": float(self.sides[level]), "alpha": alpha}

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.config.z_dim, generator=generator).to(self.device)

    def sample(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Images at the generator's stored growth state, upsampled (nearest) to the data's size."""
        return self.full_size(self.nets["generator"](z)).clamp(-1, 1)

    def figures(self, real: torch.Tensor, labels: torch.Tensor | None) -> dict[str, tuple[torch.Tensor, int]]:
        """``real_vs_fake``: top half, fixed real images as the critic now sees them (downsampled, faded);
        bottom half, samples from fixed noise, both at the current resolution."""
        generator = self.nets["generator"]
        level, alpha = int(generator.level), float(generator.alpha)
        columns = min(8, len(real))
        n = min(32, len(real)) // columns * columns
        reals = self.full_size(self.real_at(real[:n], level, alpha))
        fakes = self.sample(self.noise(n, generator=torch.Generator().manual_seed(1234)))
        return {"real_vs_fake": (torch.cat([reals, fakes]), columns)}
