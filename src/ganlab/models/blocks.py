"""Layers and networks that more than one variant file builds, so that a variant reuses them without
importing another variant's file (a change there would retrain it too: DVC tracks each run's code).

Here: DCGAN's initialisation, size plan and networks (most image variants build on them), the
original GAN's MLP pair (also CGAN's and LAPGAN's), the two layers of Salimans et al. (2016) that GAN's and
DCGAN's options put into those networks (minibatch discrimination, virtual batch norm), the two residual
blocks (CycleGAN's and VQ-VAE's, which differ), and the figure helper that interleaves image rows. A network
used by one variant file stays in that file.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def dcgan_init(module: nn.Module) -> None:
    """DCGAN's initialisation: conv and linear weights ~ N(0, 0.02), batch-norm scales ~ N(1, 0.02)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm2d, VirtualBatchNorm)):
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


def dcgan_generator(z_dim: int, channels: int, size: int, width: int,
                    reference: torch.Tensor | None = None, norm: str = "batch") -> nn.Module:
    """DCGAN's generator (Radford et al., 2016): z (B, z_dim) -> transposed convolutions with batch norm
    and ReLU -> tanh image (B, channels, size, size).

    ``reference``, fixed codes (R, z_dim): virtual batch norm in place of batch norm, with the reference batch
    G(reference) (see :class:`VirtualBatchNorm`); the generator is then a :class:`ReferenceBatch`.
    ``norm="none"``: no normalisation at all, each convolution with a bias instead (the generator of WGAN's and
    LSGAN's Figure 5, on which those papers show the regular GAN failing)."""
    if norm not in ("batch", "none") or (norm == "none" and reference is not None):
        raise ValueError(f"dcgan_generator: norm {norm!r} (batch, or none without a reference batch)")
    start, steps = upsampling_plan(size)
    c = width * 2 ** (steps - 1)
    plain = norm == "none"

    def normed(features: int) -> list[nn.Module]:
        if plain:
            return [nn.ReLU(True)]
        return [nn.BatchNorm2d(features) if reference is None else VirtualBatchNorm(features, len(reference)),
                nn.ReLU(True)]

    layers: list[nn.Module] = [nn.ConvTranspose2d(z_dim, c, start, 1, 0, bias=plain), *normed(c)]
    for _ in range(steps - 1):  # (B, c, s, s) -> (B, c/2, 2s, 2s)
        layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=plain), *normed(c // 2)]
        c //= 2
    layers += [nn.ConvTranspose2d(c, channels, 4, 2, 1), nn.Tanh()]  # no batch norm at the output
    net = nn.Sequential(nn.Unflatten(1, (z_dim, 1, 1)), *layers)
    net.apply(dcgan_init)
    return net if reference is None else ReferenceBatch(net, reference)


def dcgan_discriminator(channels: int, size: int, width: int, norm: str = "batch", outputs: int = 1,
                        minibatch: tuple[int, int] | None = None) -> nn.Sequential:
    """DCGAN's discriminator; ``norm`` "batch" (DCGAN), "none" (a WGAN-GP critic: the gradient
    penalty is per sample, which batch norm would break) or "spectral" (SNGAN: every layer).

    The last two modules are the head (a convolution over the whole final map to ``outputs``
    logits, then Flatten); ``net[:-2]`` is the body, for variants that add heads of their own.
    ``minibatch`` = (B, C): minibatch discrimination on the body's flattened map, the head then being Flatten
    and a linear layer over the map and the B minibatch features (the convolution over the whole map is that
    linear layer without them)."""
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
    if minibatch is None:
        layers += [sn(nn.Conv2d(c, outputs, start, 1, 0)), nn.Flatten()]  # (B, c, start, start) -> (B, outputs)
    else:  # (B, c, start, start) -> (B, c*start*start) -> (B, c*start*start + kernels) -> (B, outputs)
        layers += [nn.Flatten(), minibatch_head(c * start * start, outputs, *minibatch)]
    net = nn.Sequential(*layers)
    if norm != "spectral":  # spectral norm rescales the weights itself
        net.apply(dcgan_init)
    return net


def mlp_networks(z_in: int, pixels: int, h: int, dropout: float, g_dropout: float = 0.0,
                 d_extra: int = 0, reference: torch.Tensor | None = None,
                 minibatch: tuple[int, int] | None = None) -> dict[str, nn.Module]:
    """The original GAN's MLP generator (z_in -> h -> 2h -> pixels, tanh) and discriminator
    (pixels + d_extra -> 2h -> h -> 1 logit), PyTorch's default initialisation.

    The discriminator takes flat inputs: callers flatten images (and append d_extra label inputs) themselves.
    Its last module is the head; ``net[:-1]`` gives the h features the head reads. ``reference``, fixed codes
    (R, z_in): virtual batch norm in the generator in place of batch norm (a :class:`ReferenceBatch`);
    ``minibatch`` = (B, C): minibatch discrimination on those h features, inside the head.
    """
    def norm(features: int) -> nn.Module:
        return nn.BatchNorm1d(features) if reference is None else VirtualBatchNorm(features, len(reference))

    def g_block(i: int, o: int) -> list[nn.Module]:
        return [nn.Linear(i, o), norm(o), nn.LeakyReLU(0.2)] + ([nn.Dropout(g_dropout)] if g_dropout else [])

    generator = nn.Sequential(*g_block(z_in, h), *g_block(h, 2 * h), nn.Linear(2 * h, pixels), nn.Tanh())
    discriminator = nn.Sequential(
        nn.Linear(pixels + d_extra, 2 * h), nn.LeakyReLU(0.2), nn.Dropout(dropout),
        nn.Linear(2 * h, h), nn.LeakyReLU(0.2), nn.Dropout(dropout),
        nn.Linear(h, 1) if minibatch is None else minibatch_head(h, 1, *minibatch),
    )
    return {"generator": generator if reference is None else ReferenceBatch(generator, reference),
            "discriminator": discriminator}


def point_networks(z_dim: int, dims: int, h: int, minibatch: tuple[int, int] | None = None) -> dict[str, nn.Module]:
    """The 2-D toys' MLPs (Unrolled GAN's mixture of Gaussians): generator z_dim -> h -> h -> dims (ReLU, linear
    output), discriminator dims -> h -> h -> 1 logit (ReLU); no normalisation, PyTorch's default initialisation.
    As in :func:`mlp_networks`, the discriminator's last module is its head (``net[:-1]`` gives the h features it
    reads), and ``minibatch`` = (B, C) puts minibatch discrimination inside it."""
    generator = nn.Sequential(nn.Linear(z_dim, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, dims))
    discriminator = nn.Sequential(nn.Linear(dims, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(),
                                  nn.Linear(h, 1) if minibatch is None else minibatch_head(h, 1, *minibatch))
    return {"generator": generator, "discriminator": discriminator}


# Two layers of Salimans, Goodfellow, Zaremba, Cheung, Radford & Chen, "Improved Techniques for Training GANs",
# NeurIPS 2016, that GAN's and DCGAN's options put into the networks above.


class MinibatchDiscrimination(nn.Module):
    """Minibatch discrimination (Salimans et al., 2016, section 3.2): features f (N, A) -> [f, o(f)] (N, A + B).

    A learnt tensor T (A x B x C) maps each sample's features to a matrix M_i = f_i T (B x C); for each of the
    B rows, c_b(x_i, x_j) = exp(-||M_i,b - M_j,b||_1), and o(x_i)_b = sum_j c_b(x_i, x_j) over the minibatch,
    j = i included as in the paper's sum (a constant exp(0) = 1). A batch of near-copies, a collapsed
    generator's, gets o near N where varied data get o near 1, so the next layer can tell the two apart.
    The paper computes o separately for real and generated batches: each call is one batch. Under torchrun
    the minibatch is each process's share.
    """

    def __init__(self, in_features: int, kernels: int, kernel_dim: int) -> None:
        super().__init__()
        self.kernels, self.kernel_dim = kernels, kernel_dim
        # std 1/sqrt(A): an entry of M has about the scale of one feature, so that distances start at a few units
        # and exp(-distance) still passes gradient (with larger T every pair is far apart and o = 1 flat)
        self.T = nn.Parameter(torch.randn(in_features, kernels * kernel_dim) / math.sqrt(in_features))

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        m = (f @ self.T).view(len(f), self.kernels, self.kernel_dim).transpose(0, 1)  # (N, A) -> (B, N, C)
        # (B, N, N): ||M_i,b - M_j,b||_1; cdist never holds the (N, N, B, C) differences (3x faster at N = 512)
        l1 = torch.cdist(m, m, p=1)
        return torch.cat([f, torch.exp(-l1).sum(2).T], 1)  # (N, A + B)


def minibatch_head(in_features: int, outputs: int, kernels: int, kernel_dim: int) -> nn.Sequential:
    """A discriminator's last layer with minibatch discrimination before it: features (N, A) -> logits
    (N, outputs), the linear layer reading the features and their B minibatch features (section 3.2)."""
    return nn.Sequential(MinibatchDiscrimination(in_features, kernels, kernel_dim),
                         nn.Linear(in_features + kernels, outputs))


class VirtualBatchNorm(nn.Module):
    """Virtual batch normalisation (Salimans et al., 2016, section 3.5), in place of BatchNorm1d or BatchNorm2d.

    Batch norm makes a sample's output depend on the other samples of its batch. Here each example is
    normalised with the statistics of a reference batch chosen once at the start of training, combined with
    the example itself: per channel, mean = (R * mean_ref + mean_x) / (R + 1) and likewise the mean square, the
    statistics of the R reference examples and x pooled (over their positions too, for feature maps); the
    reference batch is normalised with its own statistics alone. Then a learnt scale and shift, as batch norm.

    The input holds the reference batch's activations in its first R rows, then the batch's: a
    :class:`ReferenceBatch` runs the reference codes through the generator with every batch, which is what
    makes VBN cost a second forward pass (why the paper uses it only in the generator). No running statistics:
    the output is the same in training and evaluation mode.
    """

    def __init__(self, features: int, reference: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.reference, self.eps = reference, eps
        self.weight = nn.Parameter(torch.ones(features))
        self.bias = nn.Parameter(torch.zeros(features))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        r, dtype = self.reference, h.dtype
        h = h.float()  # statistics in float32, as batch norm's under autocast
        ref, x = h[:r], h[r:]  # (R, C, ...) and (N, C, ...)
        positions = tuple(range(2, h.dim()))  # the spatial dimensions of a feature map; none for (N, C)
        ref_mean = ref.mean((0, *positions), keepdim=True)  # (1, C, 1, ...)
        ref_square = ref.pow(2).mean((0, *positions), keepdim=True)
        x_mean = x.mean(positions, keepdim=True) if positions else x  # each example's own: (N, C, 1, ...)
        x_square = x.pow(2).mean(positions, keepdim=True) if positions else x.pow(2)
        mean = (r * ref_mean + x_mean) / (r + 1)
        var = ((r * ref_square + x_square) / (r + 1) - mean.pow(2)).clamp_min(0)
        ref_var = (ref_square - ref_mean.pow(2)).clamp_min(0)
        out = torch.cat([(ref - ref_mean) / torch.sqrt(ref_var + self.eps), (x - mean) / torch.sqrt(var + self.eps)])
        shape = (1, -1) + (1,) * len(positions)
        return (out * self.weight.view(shape) + self.bias.view(shape)).to(dtype)


class ReferenceBatch(nn.Module):
    """A generator with virtual batch norm: its reference codes (R, z), fixed at the start of training and kept
    as a buffer (so checkpoints, resume and generator.pt carry them), run ahead of every batch; the batch's
    outputs alone come back. Each sample's output then depends on itself and the reference batch only."""

    def __init__(self, net: nn.Module, reference: torch.Tensor) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("reference", reference.detach().clone())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([self.reference.to(z.dtype), z]))[len(self.reference):]


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
