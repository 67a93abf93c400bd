"""VAE: a Gaussian encoder, a Bernoulli (or Gaussian) decoder, trained on the evidence lower bound.

Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014; the test likelihood as Burda,
Grosse & Salakhutdinov, "Importance Weighted Autoencoders", ICLR 2016. The encoder gives
q(z|x) = N(mu(x), diag sigma^2(x)); a sample z = mu + sigma * eps (the reparameterisation) is
decoded into p(x|z). Training maximises

    ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || N(0, I))

and logs its two terms. On one-channel images the decoder is Bernoulli over dynamically
binarised pixels (every time an image is seen, each pixel is drawn as 1 with probability its
intensity), which is how the IWAE paper's MNIST numbers were made; on other data it is a Gaussian
with one learnt standard deviation. The test NLL is the IWAE bound with k importance samples,

    log p(x) >= log (1/k) sum_i p(x, z_i) / q(z_i|x),    z_i ~ q(z|x),

which tightens towards log p(x) as k grows (IWAE: k = 5000). Networks as the IWAE paper's
one-stochastic-layer model: two deterministic tanh layers of 200 units each side, 50 latents.
With a 2-D latent, the ``manifold`` figure decodes an evenly spaced grid of the prior's inverse
CDF (Kingma & Welling, Figure 4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganlab.models.base import Variant, hp
from ganlab.models.blocks import interleave_rows
from ganlab.models.losses import kl_standard_normal
from ganlab.models.registry import register

LOG_2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class VaeConfig:
    z_dim: int = hp(50, "latent size (IWAE's one-stochastic-layer MNIST model: 50; 2 draws the manifold)",
                    min=1, max=4096)
    hidden: int = hp(200, "units of each of the two tanh layers of encoder and decoder (IWAE: 200)", min=1, max=8192)
    decoder: str = hp("auto", "p(x|z): bernoulli over dynamically binarised pixels, or gaussian; "
                      "auto takes bernoulli for one-channel images", choices=("auto", "bernoulli", "gaussian"))
    lr: float = hp(1e-3, "Adam step (IWAE: 1e-3 at the start of its schedule)", min=1e-8, max=1.0)
    eps: float = hp(1e-4, "Adam epsilon (IWAE: 1e-4)", min=1e-12, max=1.0)
    nll_samples: int = hp(5000, "k, importance samples per test image of the NLL bound (IWAE: 5000)",
                          min=1, max=1_000_000)
    nll_images: int = hp(0, "test images the NLL is estimated on, the first of the split; 0: all of them",
                         min=0, max=10_000_000)
    nll_seed: int = hp(0, "seed of the test set's binarisation and of the importance samples", min=0, max=2**31 - 1)
    manifold_size: int = hp(20, "rows and columns of the 2-D manifold figure", min=2, max=100)


class MLP(nn.Sequential):
    """in -> hidden -> hidden -> out, tanh between (IWAE's deterministic layers)."""

    def __init__(self, n_in: int, hidden: int, n_out: int) -> None:
        super().__init__(nn.Linear(n_in, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                         nn.Linear(hidden, n_out))


def log_normal(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag exp(logvar)), summed over the last dimension."""
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) / logvar.exp()).sum(-1)


def binarise(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Images in [-1, 1] -> {0, 1}, each pixel 1 with probability its intensity (x + 1) / 2."""
    p = ((x + 1) / 2).clamp(0, 1)
    u = torch.rand_like(p) if generator is None else torch.rand(p.shape, generator=generator).to(p.device)
    return (u < p).to(x.dtype)


@register("vae")
class VAE(Variant):
    """VAE: reparameterised Gaussian encoder, Bernoulli or Gaussian decoder, ELBO and IWAE test NLL (Kingma & Welling, 2014)."""

    Config = VaeConfig
    generator_roles = ("decoder", "encoder")  # the encoder too: reconstructions and the latent figures need it
    reads_test_split = True  # evaluate: the ELBO and IWAE NLL of the test images

    @property
    def bernoulli(self) -> bool:
        d = self.config.decoder
        return d == "bernoulli" or (d == "auto" and self.data.shape[0] == 1)

    def build(self) -> dict[str, nn.Module]:
        c, n = self.config, math.prod(self.data.shape)
        decoder = MLP(c.z_dim, c.hidden, n)
        if not self.bernoulli:  # one learnt log standard deviation for every pixel of p(x|z)
            decoder.register_parameter("log_sigma", nn.Parameter(torch.zeros(())))
        return {"encoder": MLP(n, c.hidden, 2 * c.z_dim), "decoder": decoder}

    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        return {"vae": torch.optim.Adam(self.nets.parameters(), lr=c.lr, betas=(0.9, 0.999), eps=c.eps)}

    # ------------------------------------------------------------------ the model

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) of q(z|x)."""
        mu, logvar = self.nets["encoder"](x.flatten(1)).chunk(2, dim=1)
        return mu, logvar

    def log_px(self, target: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x|z) per image: target (B, n) against codes z (B, z_dim) or (B, k, z_dim)."""
        out = self.nets["decoder"](z)
        if self.bernoulli:  # sum_n t_n log s(o_n) + (1 - t_n) log(1 - s(o_n)) = t . o - sum_n softplus(o_n)
            t_dot_out = (out * target).sum(-1) if z.dim() == 2 else torch.einsum("bkn,bn->bk", out, target)
            return t_dot_out - F.softplus(out).sum(-1)  # 1.6x faster than the BCE on an expanded target
        if z.dim() == 3:
            target = target.unsqueeze(1)
        log_sigma = self.nets["decoder"].log_sigma
        return -0.5 * ((target - out).pow(2) * torch.exp(-2 * log_sigma) + 2 * log_sigma + LOG_2PI).sum(-1)

    def target(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """What p(x|z) is scored on: binarised pixels (Bernoulli) or the pixels in [-1, 1] (Gaussian)."""
        flat = x.flatten(1)
        return binarise(flat, generator) if self.bernoulli else flat

    def elbo_terms(self, target: torch.Tensor, generator: torch.Generator | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """(reconstruction -log p(x|z) at one z ~ q(z|x), KL) per image, in nats; z from ``generator``
        when given (the evaluation's own stream), else from the global one."""
        mu, logvar = self.encode(self.input(target))
        eps = torch.randn_like(mu) if generator is None else torch.randn(mu.shape, generator=generator).to(mu.device)
        z = mu + eps * (0.5 * logvar).exp()
        return -self.log_px(target, z), kl_standard_normal(mu, logvar)

    def input(self, target: torch.Tensor) -> torch.Tensor:
        """The encoder sees what the decoder scores: binary pixels mapped to {-1, 1}, or the pixels."""
        return target * 2 - 1 if self.bernoulli else target

    def step(self, x: torch.Tensor, y: torch.Tensor | None, step: int) -> dict[str, float]:
        recon, kl = self.elbo_terms(self.target(x))
        loss = (recon + kl).mean()
        self.update("vae", loss)
        return {"loss": loss.item(), "recon": recon.mean().item(), "kl": kl.mean().item()}

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.config.z_dim, generator=generator).to(self.device)

    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        """The mean of p(x|z) as images in [-1, 1]."""
        out = self.nets["decoder"](z)
        mean = torch.sigmoid(out) * 2 - 1 if self.bernoulli else out.clamp(-1, 1)
        return mean.view(len(z), *self.data.shape)

    def sample(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decode_mean(z)

    # ------------------------------------------------------------------ figures and scores

    def figures(self, real: torch.Tensor, labels: torch.Tensor | None) -> dict[str, tuple[torch.Tensor, int]]:
        """``reconstruction``: real rows alternating with the decoder's mean at the encoder's mean;
        ``manifold`` (2-D latents only): the decoder over a grid of the prior's inverse CDF."""
        figs = {"reconstruction": interleave_rows(real, self.decode_mean(self.encode(real)[0]))}
        if self.config.z_dim == 2:
            figs["manifold"] = (self.decode_mean(self.manifold_codes()), self.config.manifold_size)
        return figs

    def manifold_codes(self) -> torch.Tensor:
        """z on an evenly spaced grid of the prior's quantiles: row i is the 2nd coordinate, column j the 1st."""
        n = self.config.manifold_size
        q = torch.linspace(0.5 / n, 1 - 0.5 / n, n)  # cell centres: the extremes stay finite
        v = torch.distributions.Normal(0.0, 1.0).icdf(q)
        rows, cols = torch.meshgrid(v.flip(0), v, indexing="ij")  # the top row has the largest z_2
        return torch.stack([cols.flatten(), rows.flatten()], 1).to(self.device)

    def iwae_bound(self, target: torch.Tensor, k: int, generator: torch.Generator, chunk: int = 500) -> torch.Tensor:
        """The k-sample importance-weighted bound on log p(x) of each row of ``target``, in nats."""
        mu, logvar = self.encode(self.input(target))
        std = (0.5 * logvar).exp()
        log_w = []
        for start in range(0, k, chunk):
            m = min(chunk, k - start)
            eps = torch.randn(len(target), m, self.config.z_dim, generator=generator).to(mu.device)
            z = mu.unsqueeze(1) + eps * std.unsqueeze(1)
            log_prior = -0.5 * (LOG_2PI + z.pow(2)).sum(-1)
            log_q = log_normal(z, mu.unsqueeze(1), logvar.unsqueeze(1))
            log_w.append(self.log_px(target, z) + log_prior - log_q)
        return torch.logsumexp(torch.cat(log_w, 1), dim=1) - math.log(k)

    def evaluate(self, images: torch.Tensor, labels: torch.Tensor | None) -> dict[str, float]:
        """On the test split: the ELBO and its terms over every image (one sample each) and the
        k-sample IWAE NLL over the first ``nll_images``, with its standard error over images."""
        c = self.config
        g = torch.Generator().manual_seed(c.nll_seed)
        recon, kl, nll = [], [], []
        n_nll = len(images) if c.nll_images == 0 else min(c.nll_images, len(images))
        batch = max(1, 20_000 // max(1, min(c.nll_samples, 500)))  # ~20k decoder rows per pass
        for start in range(0, len(images), batch):
            target = self.target(images[start : start + batch], g)  # binarised once, used by both
            r, k = self.elbo_terms(target, g)
            recon.append(r)
            kl.append(k)
            if start < n_nll:
                nll.append(-self.iwae_bound(target[: n_nll - start], c.nll_samples, g))
        recon_t, kl_t, nll_t = torch.cat(recon), torch.cat(kl), torch.cat(nll)
        return {
            "nll": nll_t.mean().item(),
            "nll_stderr": (nll_t.std() / math.sqrt(len(nll_t))).item() if len(nll_t) > 1 else float("nan"),
            "elbo": -(recon_t + kl_t).mean().item(),
            "recon": recon_t.mean().item(),
            "kl": kl_t.mean().item(),
        }

    def protocol(self) -> dict[str, Any]:
        c = self.config
        if self.bernoulli:
            data = (f"test images dynamically binarised once (each pixel 1 with probability its intensity), "
                    f"seed {c.nll_seed}; log-likelihood of the binary images")
        else:
            data = ("test pixels scaled to [-1, 1]; a Gaussian density with one learnt sigma, so the numbers are "
                    "densities of continuous pixels, not comparable to discrete likelihoods")
        return {
            "split": "test",
            "units": "nats per image",
            "data": data,
            "nll": f"IWAE bound, k = {c.nll_samples} importance samples from q(z|x), on the first "
                   f"{'all' if c.nll_images == 0 else c.nll_images} test images; nll_stderr is its standard error over images",
            "elbo": "one sample of z per test image, over the whole test split; elbo = -(recon + kl)",
            "anchor": "IWAE paper (Burda et al. 2016), Table 1: 86.76 nats for a one-stochastic-layer VAE trained "
                      "with k = 1 (3280 passes over the data), k = 5000 at test",
        }
