"""Layers and networks that more than one variant file builds, so that a variant reuses them without
importing another variant's file (a change there would retrain it too: DVC tracks each run's code).

Here: DCGAN's initialisation, size plan and networks (most image variants build on them), the
original GAN's MLP pair (also CGAN's and LAPGAN's), the two residual blocks (CycleGAN's and VQ-VAE's,
which differ), and the figure helper that interleaves image rows. A network used by one variant
file stays in that file.
"""

from __future__ import annotations

import torch
from torch import nn


def dcgan_init(module: nn.Module) -> None:
    """DCGAN's initialisation: conv and linear weights ~ N(0, 0.02), batch-norm scales ~ N(1, 0.02)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def upsampling_plan(size: int) -> tuple[int, int]:
    """(start side, number of stride-2 steps) for a square image: 28 -> (7, 2), 32 -> (4, 3), 64 -> (4, 4)."""
    steps = 0
    while size % 2 == 0 and size > 7:
        size //= 2
        steps += 1
    if size not in (4, 7) or steps == 0:
        raise ValueError(f"image side {size * 2**steps} is not 4 or 7 times a power of two (28, 32, 64, 128 ...)")
    return size, steps


def interleave_rows(*images: torch.Tensor, per_row: int = 10) -> tuple[torch.Tensor, int]:
    """Bands of matching rows, one row from each of ``images`` in turn (originals above their
    reconstructions, or x / G(x) / F(G(x))); whole rows only, at most ``per_row`` a row."""
    n = min(len(x) for x in images)
    n = (n // per_row) * per_row or n
    per_row = min(per_row, n)
    rows = torch.stack([x[:n].reshape(n // per_row, per_row, *x.shape[1:]) for x in images], 1)
    return rows.reshape(len(images) * n, *images[0].shape[1:]), per_row


def dcgan_generator(z_dim: int, channels: int, size: int, width: int) -> nn.Sequential:
    """DCGAN's generator (Radford et al., 2016): z (B, z_dim) -> transposed convolutions with batch norm
    and ReLU -> tanh image (B, channels, size, size)."""
    start, steps = upsampling_plan(size)
    c = width * 2 ** (steps - 1)
    layers: list[nn.Module] = [nn.ConvTranspose2d(z_dim, c, start, 1, 0, bias=False), nn.BatchNorm2d(c), nn.ReLU(True)]
    for _ in range(steps - 1):  # (B, c, s, s) -> (B, c/2, 2s, 2s)
        layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c // 2), nn.ReLU(True)]
        c //= 2
    layers += [nn.ConvTranspose2d(c, channels, 4, 2, 1), nn.Tanh()]  # no batch norm at the output
    net = nn.Sequential(nn.Unflatten(1, (z_dim, 1, 1)), *layers)
    net.apply(dcgan_init)
    return net


def dcgan_discriminator(channels: int, size: int, width: int, norm: str = "batch", outputs: int = 1) -> nn.Sequential:
    """DCGAN's discriminator; ``norm`` "batch" (DCGAN), "none" (a WGAN-GP critic: the gradient
    penalty is per sample, which batch norm would break) or "spectral" (SNGAN: every layer).

    The last two modules are the head (a convolution over the whole final map to ``outputs``
    logits, then Flatten); ``net[:-2]`` is the body, for variants that add heads of their own."""
    if norm not in ("batch", "none", "spectral"):
        raise ValueError(f"unknown norm {norm!r}")
    start, steps = upsampling_plan(size)
    sn = nn.utils.parametrizations.spectral_norm if norm == "spectral" else (lambda m: m)
    layers: list[nn.Module] = [sn(nn.Conv2d(channels, width, 4, 2, 1)), nn.LeakyReLU(0.2, True)]  # no BN at input
    c = width
    for _ in range(steps - 1):  # (B, c, 2s, 2s) -> (B, 2c, s, s)
        layers += [sn(nn.Conv2d(c, c * 2, 4, 2, 1, bias=norm != "batch"))]
        layers += [nn.BatchNorm2d(c * 2)] if norm == "batch" else []
        layers += [nn.LeakyReLU(0.2, True)]
        c *= 2
    layers += [sn(nn.Conv2d(c, outputs, start, 1, 0)), nn.Flatten()]  # (B, c, start, start) -> (B, outputs)
    net = nn.Sequential(*layers)
    if norm != "spectral":  # spectral norm rescales the weights itself
        net.apply(dcgan_init)
    return net


def mlp_networks(z_in: int, pixels: int, h: int, dropout: float, g_dropout: float = 0.0,
                 d_extra: int = 0) -> dict[str, nn.Module]:
    """The original GAN's MLP generator (z_in -> h -> 2h -> pixels, tanh) and discriminator
    (pixels + d_extra -> 2h -> h -> 1 logit), PyTorch's default initialisation.

    The discriminator takes flat inputs: callers flatten images (and append d_extra label inputs) themselves.
    """
    def g_block(i: int, o: int) -> list[nn.Module]:
        return [nn.Linear(i, o), nn.BatchNorm1d(o), nn.LeakyReLU(0.2)] + ([nn.Dropout(g_dropout)] if g_dropout else [])

    generator = nn.Sequential(*g_block(z_in, h), *g_block(h, 2 * h), nn.Linear(2 * h, pixels), nn.Tanh())
    discriminator = nn.Sequential(
        nn.Linear(pixels + d_extra, 2 * h), nn.LeakyReLU(0.2), nn.Dropout(dropout),
        nn.Linear(2 * h, h), nn.LeakyReLU(0.2), nn.Dropout(dropout),
        nn.Linear(h, 1),
    )
    return {"generator": generator, "discriminator": discriminator}


# Two residual blocks, not one with a switch: CycleGAN's (Johnson et al.'s R-k: reflection padding, two
# bias-free 3x3 convolutions, instance norm) and VQ-VAE's (pre-activation ReLU, a 3x3 then a 1x1
# convolution, with biases, no norm) share only the skip connection; their layers, parameters and
# state_dict keys differ, and each paper's is kept exactly.


class InstanceNormResidualBlock(nn.Module):
    """x + (reflect-pad, conv3, IN, ReLU, reflect-pad, conv3, IN)(x): CycleGAN's R-k block."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=False), nn.InstanceNorm2d(channels),
            nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=False), nn.InstanceNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class PreActResidualBlock(nn.Module):
    """x + conv1x1(relu(conv3x3(relu(x)))): VQ-VAE's residual block (van den Oord et al., 2017)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.ReLU(), nn.Conv2d(width, width, 3, 1, 1), nn.ReLU(), nn.Conv2d(width, width, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)
