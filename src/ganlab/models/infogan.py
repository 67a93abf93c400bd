"""InfoGAN: latent codes made interpretable by maximising their mutual information with the image.

Chen, Duan, Houthooft, Schulman, Sutskever & Abbeel, "InfoGAN: Interpretable Representation
Learning by Information Maximizing Generative Adversarial Nets", NeurIPS 2016. The generator's
input is noise z plus codes c: on MNIST one categorical code with 10 values and two continuous
codes uniform on [-1, 1]. A head Q, sharing every layer of the discriminator but the last,
predicts c from the image; the variational lower bound of I(c; G(z, c)) is the log-likelihood
of the true codes under Q: cross-entropy for the categorical code and, for the continuous ones,
a Gaussian with unit variance (so, up to a constant, half the squared error). Both D (with Q)
and G minimise lambda * (that negative log-likelihood) besides their adversarial losses, as
in the paper's code; lambda is 1 for categorical and 0.1 for continuous codes (the paper keeps
the continuous term small so that its differential entropy does not dominate). Adam with lr
2e-4 for D and 1e-3 for G, as in the paper's appendix.

The networks are the paper's appendix's (``arch: paper``): fully connected 1024-unit layers in G before the
up-convolutions, in D after the convolutions, and a 128-unit layer in Q. With DCGAN's networks instead (``arch:
dcgan``: G's first layer a linear map of the codes to its first feature map) Q reads the categorical code back
within 250 steps yet the code does not become the digit: on MNIST, seed 0, the evaluator matched 29% of samples
to their code's digit at 2,000 steps and 38% at 8,000, against 85% with the paper's networks at 2,000
(benchmarks/infogan_schedule.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganlab.errors import ParamsError
from ganlab.models.base import hp
from ganlab.models.blocks import dcgan_discriminator, dcgan_generator, dcgan_init, upsampling_plan
from ganlab.models.dcgan import DCGAN, DcganConfig
from ganlab.models.gan import GAN_OPTIONS
from ganlab.models.registry import register


@dataclass(frozen=True)
class InfoganConfig(DcganConfig):
    not_honoured = {**dict.fromkeys(GAN_OPTIONS, "InfoGAN's step is its own (the mutual-information term through "
                                                 "Q) and takes none of GAN's step options"),
                    "g_norm": "InfoGAN's generators keep their batch norm"}
    z_dim: int = hp(62, "incompressible noise size (the paper's MNIST setting)", min=1, max=4096)
    n_categories: int = hp(10, "values of the categorical code (0 = none); 10 hopes for the digit class", min=0, max=1000)
    n_continuous: int = hp(2, "continuous codes, each uniform on [-1, 1] (the paper: rotation/width on MNIST)",
                           min=0, max=64)
    lambda_cat: float = hp(1.0, "weight of the categorical information term", min=0.0, max=100.0)
    lambda_cont: float = hp(0.1, "weight of the continuous information term", min=0.0, max=100.0)
    g_lr: float = hp(1e-3, "the paper's generator step (the discriminator uses lr)", min=1e-8, max=1.0)
    arch: str = hp("paper", "networks: 'paper' (its appendix: FC 1024 layers in G and D around the convolutions, "
                            "FC 128 in Q) or 'dcgan' (DCGAN's, on which the code does not find the digit)",
                   choices=("paper", "dcgan"))
    traversal_range: float = hp(2.0, "continuous codes are swept over [-r, r] in the traversal grids (the paper: 2)",
                                min=0.1, max=10.0)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_categories == 0 and self.n_continuous == 0:
            raise ParamsError("infogan needs at least one code: n_categories and n_continuous are both 0")


def paper_networks(z_dim: int, codes: tuple[int, int], channels: int, size: int, width: int) -> dict[str, nn.Module]:
    """The InfoGAN paper's MNIST networks (its appendix, Table 1) at ``width`` (the paper: 64), any DCGAN size.

    G: FC 1024, BN, ReLU; FC to (2 width) x s x s, BN, ReLU; stride-2 up-convolutions halving the maps, BN, ReLU;
    an up-convolution to the image, tanh. D's body: stride-2 convolutions from ``width`` maps (leaky ReLU, BN
    after the first), FC 1024, BN, leaky ReLU; D's head FC 1; Q: FC 128, BN, leaky ReLU, FC to the codes."""
    start, steps = upsampling_plan(size)
    c = width * 2 ** (steps - 1)
    g: list[nn.Module] = [nn.Linear(z_dim, 1024), nn.BatchNorm1d(1024), nn.ReLU(True),
                          nn.Linear(1024, c * start * start), nn.BatchNorm1d(c * start * start), nn.ReLU(True),
                          nn.Unflatten(1, (c, start, start))]
    for _ in range(steps - 1):
        g += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c // 2), nn.ReLU(True)]
        c //= 2
    g += [nn.ConvTranspose2d(c, channels, 4, 2, 1), nn.Tanh()]
    d: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.1, True)]
    c = width
    for _ in range(steps - 1):
        d += [nn.Conv2d(c, c * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c * 2), nn.LeakyReLU(0.1, True)]
        c *= 2
    d += [nn.Flatten(), nn.Linear(c * start * start, 1024, bias=False), nn.BatchNorm1d(1024), nn.LeakyReLU(0.1, True)]
    n_cat, n_cont = codes
    nets = {
        "generator": nn.Sequential(*g),
        "body": nn.Sequential(*d),
        "discriminator": nn.Linear(1024, 1),
        "q": QHead(0, 0, n_cat, n_cont, in_features=1024),
    }
    for net in nets.values():
        net.apply(dcgan_init)
    return nets


class QHead(nn.Module):
    """Q(c | x) on the discriminator's last feature map: category logits and continuous-code means."""

    def __init__(self, channels: int, side: int, n_categories: int, n_continuous: int, hidden: int = 128,
                 in_features: int = 0) -> None:
        super().__init__()
        self.n_categories = n_categories
        if in_features:  # flat features (the paper's networks): FC 128, BN, leaky ReLU
            first: list[nn.Module] = [nn.Linear(in_features, hidden, bias=False), nn.BatchNorm1d(hidden),
                                      nn.LeakyReLU(0.1, True)]
        else:  # a feature map: a convolution over all of it
            first = [nn.Conv2d(channels, hidden, side, 1, 0, bias=False), nn.BatchNorm2d(hidden),
                     nn.LeakyReLU(0.2, True), nn.Flatten()]
        self.net = nn.Sequential(*first, nn.Linear(hidden, n_categories + n_continuous))

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.net(features)
        return out[:, : self.n_categories], out[:, self.n_categories :]


@register("infogan")
class InfoGAN(DCGAN):
    """InfoGAN: categorical and continuous codes, a Q head on D's body, mutual-information loss (Chen et al., 2016)."""

    Config = InfoganConfig

    def build(self) -> dict[str, nn.Module]:
        c, (channels, size, _) = self.config, self.data.shape
        if c.arch == "paper":
            return paper_networks(self.code_start + self.code_size, (c.n_categories, c.n_continuous), channels, size,
                                  c.width)
        d = dcgan_discriminator(channels, size, c.width)
        body, head = d[:-2], d[-2:]
        final = head[0]  # the conv over the whole last map: its input channels and kernel are the map's
        return {
            "generator": dcgan_generator(self.code_start + self.code_size, channels, size, c.width),
            "body": body,
            "discriminator": head,
            "q": QHead(final.in_channels, final.kernel_size[0], c.n_categories, c.n_continuous),
        }

    @property
    def code_start(self) -> int:
        return self.config.z_dim

    @property
    def code_size(self) -> int:
        return self.config.n_categories + self.config.n_continuous

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        d_params = [*self.nets["body"].parameters(), *self.nets["discriminator"].parameters(), *self.nets["q"].parameters()]
        return {
            "discriminator": torch.optim.Adam(d_params, lr=c.lr, betas=(c.beta1, 0.999)),
            "generator": torch.optim.Adam(self.nets["generator"].parameters(), lr=c.g_lr, betas=(c.beta1, 0.999)),
        }

    # ------------------------------------------------------------------ codes

    def codes(self, n: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Random codes: category indices (n,) and continuous values (n, n_continuous) in [-1, 1]."""
        c = self.config
        cat = torch.randint(0, max(c.n_categories, 1), (n,), generator=generator)
        cont = torch.rand(n, c.n_continuous, generator=generator) * 2 - 1
        return cat.to(self.device), cont.to(self.device)

    def join(self, z: torch.Tensor, cat: torch.Tensor, cont: torch.Tensor) -> torch.Tensor:
        """The generator's input [z, one-hot(cat), cont]."""
        parts = [z]
        if self.config.n_categories:
            parts.append(F.one_hot(cat, self.config.n_categories).float())
        return torch.cat([*parts, cont], 1)

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        z = torch.randn(n, self.config.z_dim, generator=generator).to(self.device)
        return self.join(z, *self.codes(n, generator))

    def split(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(category indices, continuous codes) back out of a generator input."""
        c, s = self.config, self.code_start
        cat = latent[:, s : s + c.n_categories].argmax(1) if c.n_categories else latent.new_zeros(len(latent), dtype=torch.long)
        return cat, latent[:, s + c.n_categories :]

    # ------------------------------------------------------------------ training

    def discriminate(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        features = self.nets["body"](x)
        cat_logits, cont_mean = self.nets["q"](features)
        return self.nets["discriminator"](features), cat_logits, cont_mean

    def information_loss(self, cat_logits: torch.Tensor, cont_mean: torch.Tensor,
                         cat: torch.Tensor, cont: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """lambda-weighted negative log-likelihood of the true codes under Q (the MI lower bound, negated)."""
        c = self.config
        loss = cat_logits.new_zeros(())
        parts: dict[str, float] = {}
        if c.n_categories:
            nll_cat = F.cross_entropy(cat_logits, cat)
            loss = loss + c.lambda_cat * nll_cat
            parts["info_cat"] = nll_cat.item()
        if c.n_continuous:
            nll_cont = 0.5 * ((cont_mean - cont) ** 2).sum(1).mean()  # unit-variance Gaussian, constant dropped
            loss = loss + c.lambda_cont * nll_cont
            parts["info_cont"] = nll_cont.item()
        return loss, parts

    def step(self, x: torch.Tensor, y: torch.Tensor | None, step: int) -> dict[str, float]:
        latent = self.noise(len(x))
        cat, cont = self.split(latent)
        fake = self.sample(latent)
        real_logit, _, _ = self.discriminate(x)
        fake_logit, cat_logits, cont_mean = self.discriminate(fake.detach())
        info_d, _ = self.information_loss(cat_logits, cont_mean, cat, cont)
        loss_d = self.d_loss(real_logit, fake_logit) + info_d
        self.update("discriminator", loss_d)
        fake_logit, cat_logits, cont_mean = self.discriminate(fake)
        info_g, parts = self.information_loss(cat_logits, cont_mean, cat, cont)
        loss_g = self.g_loss(fake_logit) + info_g
        self.update("generator", loss_g)
        return {"loss_d": loss_d.item(), "loss_g": loss_g.item(), **parts}

    # ------------------------------------------------------------------ traversals

    @torch.no_grad()
    def figures(self, real: torch.Tensor | None = None, labels: torch.Tensor | None = None, rows: int = 10,
                columns: int = 10) -> dict[str, tuple[torch.Tensor, int]]:
        """A traversal grid per code, the InfoGAN paper's Figure 2.

        ``traverse_category``: each column one value of the categorical code, each row one fixed z
        (and fixed continuous codes). ``traverse_continuous<i>``: code i swept over
        [-r, r] along the columns, each row one category (cycled) and one fixed z, other codes 0.
        """
        c = self.config
        g = torch.Generator().manual_seed(1234)  # the same rows at every step
        z = torch.randn(rows, c.z_dim, generator=g).to(self.device).repeat_interleave(columns, 0)
        cat, cont = self.codes(rows, g)
        out: dict[str, tuple[torch.Tensor, int]] = {}
        if c.n_categories:
            k = min(columns, c.n_categories)
            zc = z.view(rows, columns, -1)[:, :k].reshape(rows * k, -1)
            grid_cat = torch.arange(k, device=self.device).repeat(rows)
            out["traverse_category"] = (self.sample(self.join(zc, grid_cat, cont.repeat_interleave(k, 0))), k)
        sweep = torch.linspace(-c.traversal_range, c.traversal_range, columns, device=self.device)
        row_cat = (torch.arange(rows, device=self.device) % max(c.n_categories, 1)).repeat_interleave(columns)
        for i in range(c.n_continuous):
            values = torch.zeros(rows * columns, c.n_continuous, device=self.device)
            values[:, i] = sweep.repeat(rows)
            out[f"traverse_continuous{i}"] = (self.sample(self.join(z, row_cat, values)), columns)
        return out
