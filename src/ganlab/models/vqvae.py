"""VQ-VAE: a convolutional auto-encoder whose latents are a grid of codebook indices, and a PixelCNN prior over them.

van den Oord, Vinyals & Kavukcuoglu, "Neural Discrete Representation Learning", NeurIPS 2017.
The encoder maps an image to a grid of vectors z_e (28 px -> 7x7, 32 -> 8x8, 64 -> 16x16); each
is replaced by its nearest of K codebook vectors e_k, and the decoder reconstructs the image from
that grid. The lookup has no gradient, so the decoder's gradient is copied onto z_e (the
straight-through estimator). With sg the stop-gradient,

    L = ||x - D(e)||^2 + ||sg[z_e] - e||^2 + beta ||z_e - sg[e]||^2

the codebook term moves the codes toward the encoder outputs, the commitment term keeps the
encoder near its codes (beta = 0.25). With ``ema`` the codebook term is dropped and each code is
instead the running mean of the encoder outputs assigned to it (the paper's appendix): decay
0.99, counts Laplace-smoothed so that no code divides by zero. Every squared error is a mean over
elements, as DeepMind's Sonnet implementation has it. Short runs leave most of the codebook unused
(MNIST, K = 64, 200 to 400 steps: 5 to 17 codes in a batch); ``restart_below`` (EMA only, off by
default, not in the paper) moves codes that fell out of use onto encoder outputs of the batch, as
Jukebox does (then 58 to 64).

Generation is two-stage, as in the paper: steps before ``vq_steps`` train the auto-encoder, later
ones a PixelCNN (masked convolutions, van den Oord et al. 2016) on the code grids of the frozen
encoder. A sample is drawn position by position in raster order, each index by inverse CDF from
the prior's conditional with one uniform number of ``noise``; the same noise gives the same grid.
The decoder's last layer is linear, not tanh: the reconstruction term is a Gaussian likelihood
whose mean is unbounded, and a tanh would flatten its gradient on MNIST's saturated background;
images are clamped to [-1, 1] where they are shown or scored.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from ganlab.errors import ParamsError
from ganlab.models.base import DataSpec, Phase, Variant, hp
from ganlab.models.blocks import PreActResidualBlock, interleave_rows, upsampling_plan
from ganlab.models.registry import register


@dataclass(frozen=True)
class VqvaeConfig:
    codebook_size: int = hp(512, "K, codebook vectors (the paper's CIFAR-10 and ImageNet models: 512)",
                            min=2, max=65536)
    code_dim: int = hp(64, "D, size of each code vector (DeepMind's Sonnet VQ-VAE example: 64)", min=1, max=4096)
    width: int = hp(256, "channels of every encoder and decoder layer (the paper: 256 hidden units)", min=1, max=4096)
    res_blocks: int = hp(2, "residual 3x3 blocks in the encoder and in the decoder (the paper: 2)", min=0, max=64)
    downsamples: int = hp(2, "stride-2 convolutions of the encoder: 28 px -> 7x7 codes, 32 -> 8x8 (the paper: 2)",
                          min=1, max=8)
    beta: float = hp(0.25, "commitment weight (the paper: 0.25)", min=0.0, max=100.0)
    ema: bool = hp(False, "codebook as running means of its assigned encoder outputs (the paper's appendix) "
                   "instead of the codebook loss")
    ema_decay: float = hp(0.99, "decay of the codebook's running means (the paper: 0.99)", min=0.0, max=0.99999)
    ema_epsilon: float = hp(1e-5, "Laplace smoothing of the running counts (Sonnet's default)", min=0.0, max=1.0)
    restart_below: float = hp(0.0, "EMA only: a code whose running count of assignments per batch falls below this "
                              "is moved onto a random encoder output of the batch (Jukebox's restarts; 0: off, as "
                              "the paper)", min=0.0, max=1e9)
    lr: float = hp(2e-4, "Adam step of the auto-encoder (the paper: 2e-4)", min=1e-8, max=1.0)
    vq_steps: int = hp(5000, "steps that train the auto-encoder; every later step trains the prior on frozen codes",
                       min=0, max=10**9)
    prior_width: int = hp(64, "channels of the PixelCNN prior", min=1, max=4096)
    prior_layers: int = hp(4, "residual masked 3x3 blocks of the prior, after its 7x7 masked input layer",
                           min=0, max=64)
    prior_lr: float = hp(1e-3, "Adam step of the prior (the paper gives none)", min=1e-8, max=1.0)


# --------------------------------------------------------------------------- auto-encoder


def vq_encoder(channels: int, width: int, code_dim: int, downsamples: int, res_blocks: int) -> nn.Sequential:
    """(B, C, H, W) -> (B, D, H / 2^n, W / 2^n): 4x4 stride-2 convolutions, a 3x3, residual blocks, a 1x1 to D."""
    layers: list[nn.Module] = []
    c = channels
    for _ in range(downsamples):
        layers += [nn.Conv2d(c, width, 4, 2, 1), nn.ReLU()]
        c = width
    layers += [nn.Conv2d(width, width, 3, 1, 1)]
    layers += [PreActResidualBlock(width) for _ in range(res_blocks)]
    return nn.Sequential(*layers, nn.ReLU(), nn.Conv2d(width, code_dim, 1))


def vq_decoder(channels: int, width: int, code_dim: int, downsamples: int, res_blocks: int) -> nn.Sequential:
    """The encoder mirrored: a 3x3 from D, residual blocks, 4x4 stride-2 transposed convolutions; linear output."""
    layers: list[nn.Module] = [nn.Conv2d(code_dim, width, 3, 1, 1)]
    layers += [PreActResidualBlock(width) for _ in range(res_blocks)]
    for i in range(downsamples):
        last = i == downsamples - 1
        layers += [nn.ReLU(), nn.ConvTranspose2d(width, channels if last else width, 4, 2, 1)]
    return nn.Sequential(*layers)


class Codebook(nn.Module):
    """K code vectors of size D; with ``ema`` a buffer moved by running means, else a trained parameter.

    The running statistics are buffers, so checkpoints carry them and a resumed run continues them.
    They start as if each code had once been assigned itself (count 1, sum = the code): a code
    that no encoder output picks then stays where it is instead of being divided by a zero count.
    """

    def __init__(self, size: int, dim: int, ema: bool, decay: float, epsilon: float) -> None:
        super().__init__()
        self.ema, self.decay, self.epsilon = ema, decay, epsilon
        # uniform in +-1/K, a common choice (the paper gives none); it leaves most codes unpicked at
        # first, which ``restart_below`` repairs
        codes = torch.empty(size, dim).uniform_(-1 / size, 1 / size)
        if ema:
            self.register_buffer("codes", codes)
            self.register_buffer("ema_count", torch.ones(size))
            self.register_buffer("ema_sum", codes.clone())
        else:
            self.codes = nn.Parameter(codes)

    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """Index of the nearest code of each row of z (N, D), in float32 whatever the autocast."""
        with torch.autocast(z.device.type, enabled=False):
            z, e = z.detach().float(), self.codes.detach().float()
            distance = z.pow(2).sum(1, keepdim=True) - 2 * z @ e.t() + e.pow(2).sum(1)  # (N, K)
            return distance.argmin(1)

    def lookup(self, index: torch.Tensor) -> torch.Tensor:
        """Code vectors of an index tensor of any shape: (...,) -> (..., D)."""
        return F.embedding(index, self.codes)

    @torch.no_grad()
    def ema_update(self, z: torch.Tensor, index: torch.Tensor) -> None:
        """N_k <- g N_k + (1-g) n_k,  m_k <- g m_k + (1-g) sum of the z assigned to k,  e_k = m_k / N_k
        (N_k Laplace-smoothed). Under torchrun the batch totals are summed over the processes first."""
        k = len(self.codes)
        z = z.detach().float()
        counts = torch.bincount(index, minlength=k).float()
        sums = torch.zeros_like(self.ema_sum).index_add_(0, index, z)
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            dist.all_reduce(counts)
            dist.all_reduce(sums)
        self.ema_count.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.ema_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        n = self.ema_count.sum()
        smoothed = (self.ema_count + self.epsilon) / (n + k * self.epsilon) * n
        self.codes.copy_(self.ema_sum / smoothed.unsqueeze(1))

    @torch.no_grad()
    def restart_dead(self, z: torch.Tensor, below: float) -> None:
        """Codes whose running count fell below ``below`` restart as randomly chosen rows of z, with a
        count of 1: a code no encoder output picks gets no gradient and no running mean, and would
        otherwise stay dead for the rest of the run. (Dhariwal et al., "Jukebox", 2020; not in the paper.)"""
        dead = (self.ema_count < below).nonzero().flatten()
        if not len(dead):
            return
        new = z.detach().float()[torch.randint(0, len(z), (len(dead),), device=z.device)]
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            dist.broadcast(new, 0)  # the counts agree across processes, the batches do not
        self.codes[dead] = new
        self.ema_sum[dead] = new
        self.ema_count[dead] = 1.0


def code_usage(counts: torch.Tensor) -> float:
    """Fraction of the codes used at least once, from a histogram of code indices (K,)."""
    return (counts > 0).float().mean().item()


def perplexity(counts: torch.Tensor) -> float:
    """exp(entropy) of the code histogram (K,): 1 when one code is used, K when all are used equally."""
    p = counts.float() / counts.sum()
    return math.exp(-(p * p.clamp_min(1e-12).log()).sum().item())


# --------------------------------------------------------------------------- prior


class MaskedConv2d(nn.Conv2d):
    """A convolution that sees only the positions before the centre in raster order (type A) or
    also the centre itself (type B): PixelCNN's causal convolution."""

    def __init__(self, kind: str, c_in: int, c_out: int, kernel: int) -> None:
        super().__init__(c_in, c_out, kernel, 1, kernel // 2)
        mask = torch.ones(kernel, kernel)
        centre = kernel // 2
        mask[centre, centre + 1 if kind == "B" else centre :] = 0  # the rest of the centre row
        mask[centre + 1 :] = 0  # every row below
        self.register_buffer("mask", mask.view(1, 1, kernel, kernel))  # broadcast over (out, in)

    def masked_weight(self) -> torch.Tensor:
        return self.weight * self.mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.masked_weight(), self.bias, self.stride, self.padding)

    def centre_row(self, window: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """The output row at the centre of ``window`` (B, C, kernel rows, W) -> (B, C_out, 1, W), ``weight``
        being :meth:`masked_weight`: no vertical padding, the horizontal padding of ``forward``."""
        return F.conv2d(window, weight, self.bias, self.stride, (0, self.padding[1]))


class PixelCNNPrior(nn.Module):
    """Code grid (B, h, w) -> logits (B, K, h, w) of p(c_i | c_<i): an embedding, a 7x7 type-A masked
    convolution, residual type-B blocks. (A plain PixelCNN: positions up and to the right beyond
    its receptive field's cone are not seen, the blind spot the gated PixelCNN later removed.)"""

    def __init__(self, codes: int, width: int, layers: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(codes, width)
        self.first = MaskedConv2d("A", width, width, 7)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.ReLU(), MaskedConv2d("B", width, width, 3), nn.ReLU(), nn.Conv2d(width, width, 1))
            for _ in range(layers)
        )
        self.out = nn.Sequential(nn.ReLU(), nn.Conv2d(width, codes, 1))

    def forward(self, grid: torch.Tensor) -> torch.Tensor:
        h = self.first(self.embed(grid).permute(0, 3, 1, 2))  # (B, h, w, width) -> (B, width, h, w)
        for block in self.blocks:
            h = h + block(h)
        return self.out(h)

    def raster_logits(self, codes: torch.Tensor) -> Iterator[torch.Tensor]:
        """Logits (B, K) of each position of the grid ``codes`` (B, h, w) in raster order, those of
        ``self(codes)[:, :, r, c]``, for a caller that writes each position's code into ``codes``
        before it asks for the next position (a sampler); positions not reached yet are not read.

        The masks make this cheap: at row r, every layer's output above row r is final (it sees
        rows up to its own), so each step evaluates row r alone, each layer from a cache of its
        input holding the rows above and zeros below, which the masks weigh 0. Each output is the
        same sum over the same weights as ``forward``'s; that the backend also adds it up in the
        same order, whatever the tensor's height, tests/models/test_vqvae.py checks bit for bit.
        """
        n, h, w = codes.shape
        k = self.first.kernel_size[0] // 2
        first = self.first.masked_weight()
        embedded = self.embed.weight.new_zeros(n, h + 2 * k, w, self.embed.embedding_dim)  # k zero rows each side
        blocks = [(block, block[1].masked_weight(), block[1].kernel_size[0] // 2) for block in self.blocks]
        caches: list[torch.Tensor] = []  # each block's input, with its kernel's half-height of zero rows each side
        for r in range(h):
            for c in range(w):
                # (B, rows, w, width) -> (B, width, rows, w), channels-last strides as in forward
                x = self.first.centre_row(embedded[:, r : r + 2 * k + 1].permute(0, 3, 1, 2), first)
                if not caches:  # the dtype of the features, which autocast chooses
                    caches = [x.new_zeros(n, x.shape[1], h + 2 * kb, w).contiguous(memory_format=torch.channels_last)
                              for _, _, kb in blocks]
                for (block, weight, kb), cache in zip(blocks, caches):
                    cache[:, :, r + kb] = x[:, :, 0]
                    relu, conv, relu_after, mix = block
                    x = x + mix(relu_after(conv.centre_row(relu(cache[:, :, r : r + 2 * kb + 1]), weight)))
                yield self.out(x)[:, :, 0, c]
                embedded[:, r + k, c] = self.embed(codes[:, r, c])  # the code the caller has just written


# --------------------------------------------------------------------------- the variant


@register("vqvae")
class VQVAE(Variant):
    """VQ-VAE: nearest-code quantised auto-encoder, straight-through gradients, PixelCNN prior over the codes (van den Oord et al., 2017)."""

    Config = VqvaeConfig
    generator_roles = ("decoder", "codebook", "prior")  # what sampling needs; the encoder only reconstructs
    reads_test_split = True  # evaluate: reconstructions, code usage and the prior's NLL on the test split
    has_latent_walk = False
    no_latent_walk_reason = ("its samples come from the PixelCNN prior, one code position at a time, from uniform "
                             "quantiles: there is no continuous latent to walk")

    @classmethod
    def phases(cls, config: VqvaeConfig, data: DataSpec | None = None) -> list[Phase]:
        """The auto-encoder for ``vq_steps`` steps, then the prior on its frozen codes."""
        return [Phase("auto-encoder", config.vq_steps), Phase("prior", None)]

    @property
    def grid(self) -> tuple[int, int]:
        """(h, w) of the code grid."""
        _, height, width = self.data.shape
        return height >> self.config.downsamples, width >> self.config.downsamples

    def build(self) -> dict[str, nn.Module]:
        c, (channels, size, _) = self.config, self.data.shape
        _, steps = upsampling_plan(size)
        if c.downsamples > steps:
            raise ParamsError(f"model.downsamples = {c.downsamples}: a {size} px image halves at most {steps} times")
        if c.restart_below > 0 and not c.ema:
            raise ParamsError(f"model.restart_below = {c.restart_below} needs model.ema = true: "
                              "it reads the running counts")
        return {
            "encoder": vq_encoder(channels, c.width, c.code_dim, c.downsamples, c.res_blocks),
            "decoder": vq_decoder(channels, c.width, c.code_dim, c.downsamples, c.res_blocks),
            "codebook": Codebook(c.codebook_size, c.code_dim, c.ema, c.ema_decay, c.ema_epsilon),
            "prior": PixelCNNPrior(c.codebook_size, c.prior_width, c.prior_layers),
        }

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """One Adam, a parameter group per stage. No loss reaches both groups, and Adam keeps its
        moments and step count per parameter and skips parameters without a gradient: this is two
        independent Adams, one of which waits untouched until ``vq_steps``."""
        c = self.config
        autoencoder = [*self.nets["encoder"].parameters(), *self.nets["decoder"].parameters()]
        if not c.ema:  # with EMA the codebook is a buffer, moved by running means only
            autoencoder += list(self.nets["codebook"].parameters())
        return {"vqvae": torch.optim.Adam([{"params": autoencoder, "lr": c.lr},
                                           {"params": self.nets["prior"].parameters(), "lr": c.prior_lr}])}

    # ------------------------------------------------------------------ the model

    def quantise(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(z_e as (N, D) rows, code index grid (B, h, w), chosen codes e as (N, D) rows)."""
        z = self.nets["encoder"](x)
        b, d, h, w = z.shape
        rows = z.permute(0, 2, 3, 1).reshape(-1, d)  # (B, D, h, w) -> (B*h*w, D), raster order
        index = self.nets["codebook"].nearest(rows)
        return rows, index.view(b, h, w), self.nets["codebook"].lookup(index)

    def decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """Code vectors as a grid (B, h, w, D) -> images (unbounded)."""
        return self.nets["decoder"](codes.permute(0, 3, 1, 2))

    def reconstruct(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(images D(e) in [-1, 1], code grid) of real images."""
        _, index, _ = self.quantise(x)
        return self.decode_codes(self.nets["codebook"].lookup(index)).clamp(-1, 1), index

    def step(self, x: torch.Tensor, y: torch.Tensor | None, step: int) -> dict[str, float]:
        c, k = self.config, self.config.codebook_size
        if step < c.vq_steps:
            rows, index, e = self.quantise(x)
            z_q = rows + (e - rows).detach()  # straight-through: the decoder's gradient lands on z_e
            recon = self.decode_codes(z_q.view(*index.shape, -1))
            loss_recon = F.mse_loss(recon, x)
            loss_commit = F.mse_loss(rows, e.detach())
            loss = loss_recon + c.beta * loss_commit
            if not c.ema:
                loss = loss + F.mse_loss(e, rows.detach())  # the codebook term
            self.update("vqvae", loss)
            if c.ema:
                self.nets["codebook"].ema_update(rows, index.flatten())
                if c.restart_below > 0:
                    self.nets["codebook"].restart_dead(rows, c.restart_below)
            losses = {}
        else:  # the prior on frozen codes: only the prior's parameters get a gradient
            with torch.no_grad():
                rows, index, e = self.quantise(x)
                loss_recon = F.mse_loss(self.decode_codes(e.view(*index.shape, -1)), x)
                loss_commit = F.mse_loss(rows, e)
            loss_prior = F.cross_entropy(self.nets["prior"](index), index)
            self.update("vqvae", loss_prior)
            losses = {"loss_prior": loss_prior.item()}  # nats per code position
        counts = torch.bincount(index.flatten(), minlength=k)
        return {"loss_recon": loss_recon.item(), "loss_commit": loss_commit.item(), "usage": code_usage(counts),
                "perplexity": perplexity(counts), **losses}

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """One uniform number per code position: (n, h*w), consumed in raster order by ``sample``."""
        return torch.rand(n, self.grid[0] * self.grid[1], generator=generator).to(self.device)

    @torch.no_grad()
    def sample_codes(self, u: torch.Tensor) -> torch.Tensor:
        """Code grids (n, h, w) from the prior, position by position: index = the first k whose
        cumulative probability exceeds u_i, so P(index = k) = p(k | codes before)."""
        h, w = self.grid
        codes = torch.zeros(len(u), h, w, dtype=torch.long, device=u.device)
        for i, logits in enumerate(self.nets["prior"].raster_logits(codes)):
            r, col = divmod(i, w)
            logits = logits.float()
            cdf = logits.softmax(1).cumsum(1)
            pick = torch.searchsorted(cdf, u[:, i : i + 1].float().contiguous(), right=True)
            codes[:, r, col] = pick.squeeze(1).clamp(max=self.config.codebook_size - 1)  # u past a rounded-down total
        return codes

    def sample(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decode_codes(self.nets["codebook"].lookup(self.sample_codes(z))).clamp(-1, 1)

    # ------------------------------------------------------------------ figures and scores

    def figures(self, real: torch.Tensor, labels: torch.Tensor | None) -> dict[str, tuple[torch.Tensor, int]]:
        """``reconstruction``: rows of real images alternating with D(e), their quantised reconstructions."""
        return {"reconstruction": interleave_rows(real, self.reconstruct(real)[0])}

    def evaluate(self, images: torch.Tensor, labels: torch.Tensor | None) -> dict[str, float]:
        """Over the whole test split: reconstruction MSE per pixel, codebook usage and perplexity of
        the test codes' histogram, and the prior's negative log-likelihood of those codes."""
        squared, nll = 0.0, 0.0
        counts = torch.zeros(self.config.codebook_size, dtype=torch.long, device=self.device)
        for batch in images.split(500):
            recon, index = self.reconstruct(batch)
            squared += (recon.float() - batch.float()).pow(2).sum().item()
            nll += F.cross_entropy(self.nets["prior"](index).float(), index, reduction="sum").item()
            counts += torch.bincount(index.flatten(), minlength=len(counts))
        self.n_evaluated = len(images)
        return {"recon_mse": squared / images.numel(), "usage": code_usage(counts), "perplexity": perplexity(counts),
                "prior_nll": nll / counts.sum().item()}

    def protocol(self) -> dict[str, Any]:
        return {
            "split": "test",
            "images": getattr(self, "n_evaluated", "all"),
            "recon_mse": "mean squared error per pixel of the quantised reconstruction clamped to [-1, 1], "
                         "pixels scaled to [-1, 1] (4x the same error in [0, 1] units)",
            "usage": f"fraction of the K = {self.config.codebook_size} codes used at least once in the test codes",
            "perplexity": "exp of the entropy of the test codes' histogram, in codes (1 to K)",
            "prior_nll": f"PixelCNN prior's negative log-likelihood of the test codes, nats per code position "
                         f"({self.grid[0]}x{self.grid[1]} positions an image)",
        }
