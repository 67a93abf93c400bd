"""The claims toy data settle in seconds: the GAN paper's 1-D lessons, WGAN's disjoint Gaussians, mode collapse.

Each claim here is registered with :func:`ganlab.claims.claim.claim`; its rule is in its ``parts``. The
measures are pure functions of trained networks and samples, tested on cases with known answers
(tests/claims/test_toy_claims.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from ganlab.claims.claim import Claim, Measured, Part, claim
from ganlab.claims.config import ClaimsParams
from ganlab.claims.rules import Bound
from ganlab.images import save_figure

# --------------------------------------------------------------------------- WGAN, Example 1 and Figure 2

#: two 1-D Gaussians with disjoint supports in practice (14 std apart), as in WGAN's Figure 2
REAL_MEAN, FAKE_MEAN, SPREAD = -2.0, 2.0, 0.3
CRITIC_STEPS = 2000  # enough for both networks to reach their (near-)optimal shapes on this fixed pair
BATCH = 256
HIDDEN = 64


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(1, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 1))


def train_discriminators(seed: int, steps: int = CRITIC_STEPS) -> tuple[nn.Module, nn.Module]:
    """A GAN discriminator (logistic loss, Adam 2e-4 / 0.5 as DCGAN's) and a WGAN critic (weight clipping at
    0.01, RMSProp 5e-5 as WGAN's Algorithm 1), the same MLP 1-64-64-1, each trained ``steps`` steps to tell
    N(REAL_MEAN, SPREAD) from the fixed N(FAKE_MEAN, SPREAD); drawn with ``seed``."""
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        disc, critic = _mlp(), _mlp()
    opt_d = torch.optim.Adam(disc.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_c = torch.optim.RMSprop(critic.parameters(), lr=5e-5)
    bce = nn.BCEWithLogitsLoss()
    ones, zeros = torch.ones(BATCH, 1), torch.zeros(BATCH, 1)
    for _ in range(steps):
        real = REAL_MEAN + SPREAD * torch.randn(BATCH, 1, generator=g)
        fake = FAKE_MEAN + SPREAD * torch.randn(BATCH, 1, generator=g)
        loss_d = bce(disc(real), ones) + bce(disc(fake), zeros)
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_c = critic(fake).mean() - critic(real).mean()  # the critic maximises E f(real) - E f(fake)
        opt_c.zero_grad()
        loss_c.backward()
        opt_c.step()
        with torch.no_grad():
            for p in critic.parameters():
                p.clamp_(-0.01, 0.01)
    return disc, critic


def relative_slope(f: nn.Module | callable, at: torch.Tensor, lo: float, hi: float, points: int = 401) -> float:
    """How much a 1-D function still slopes at the points ``at``, scale-free: the mean |f'(x)| there, times the
    span hi - lo, over the range of f on [lo, hi]. A straight line scores 1 everywhere; a sigmoid flat at
    ``at`` scores ~0. It is what a generator sitting at ``at`` gets to learn from, whatever f's scale."""
    x = at.detach().clone().view(-1, 1).requires_grad_(True)
    (grad,) = torch.autograd.grad(f(x).sum(), x)
    with torch.no_grad():
        values = f(torch.linspace(lo, hi, points).view(-1, 1))
    spread = float(values.max() - values.min())
    if spread <= 0:
        return 0.0
    return float(grad.abs().mean()) * (hi - lo) / spread


def _wgan_measure(claims: ClaimsParams, study_dir: Path, data_root: Path) -> Measured:
    lo, hi = REAL_MEAN - 4 * SPREAD, FAKE_MEAN + 4 * SPREAD
    slope: dict[str, dict[int, float]] = {"gan-discriminator": {}, "wgan-critic": {}}
    curves = {}
    grid = torch.linspace(lo, hi, 401).view(-1, 1)
    for seed in claims.seeds:
        disc, critic = train_discriminators(seed)
        fake = FAKE_MEAN + SPREAD * torch.randn(1000, 1, generator=torch.Generator().manual_seed(10_000 + seed))
        prob = lambda x, d=disc: torch.sigmoid(d(x))  # noqa: E731 - D(x) as the paper draws it
        slope["gan-discriminator"][seed] = relative_slope(prob, fake, lo, hi)
        slope["wgan-critic"][seed] = relative_slope(critic, fake, lo, hi)
        with torch.no_grad():
            curves[seed] = (prob(grid).flatten().numpy(), critic(grid).flatten().numpy())
    protocol = {"real": f"N({REAL_MEAN}, {SPREAD})", "fake": f"N({FAKE_MEAN}, {SPREAD}), fixed",
                "networks": f"MLP 1-{HIDDEN}-{HIDDEN}-1 (ReLU), the same for both", "steps": CRITIC_STEPS,
                "batch": BATCH, "discriminator": "logistic loss, Adam lr 2e-4, beta1 0.5",
                "critic": "E f(real) - E f(fake), RMSProp lr 5e-5, weights clipped to [-0.01, 0.01] (Algorithm 1)",
                "slope": "mean |f'(x)| over 1,000 fake samples x (seeded) times the span, over f's range on the span "
                         f"[{lo:g}, {hi:g}]; the GAN's f is D(x) = sigmoid(logit)"}
    return Measured({"slope_at_fake": slope}, protocol, (grid.flatten().numpy(), curves))


def _wgan_figure(measured: Measured, path: Path) -> None:
    from matplotlib.figure import Figure

    x, curves = measured.figure_data
    fig = Figure(figsize=(7, 3.6))
    ax = fig.add_subplot(1, 1, 1)
    for i, (seed, (d, f)) in enumerate(sorted(curves.items())):
        ax.plot(x, d, color="tab:red", lw=1.2, alpha=0.8, label="GAN discriminator D(x)" if i == 0 else None)
        span = f.max() - f.min()
        ax.plot(x, (f - f.min()) / (span if span > 0 else 1), color="tab:blue", lw=1.2, alpha=0.8,
                label="WGAN critic f(x), rescaled to [0, 1]" if i == 0 else None)
    dens = lambda m: np.exp(-0.5 * ((x - m) / SPREAD) ** 2)  # noqa: E731 - the two densities, peak 1
    ax.fill_between(x, dens(REAL_MEAN), color="tab:green", alpha=0.25, label="real")
    ax.fill_between(x, dens(FAKE_MEAN), color="tab:orange", alpha=0.25, label="fake")
    ax.set_xlabel("x")
    ax.set_title(f"Disjoint Gaussians: the discriminator saturates, the critic stays linear ({len(curves)} seeds)",
                 fontsize=9)
    ax.legend(fontsize=7, loc="center left")
    save_figure(fig, path)


claim(Claim(
    id="wgan-critic-gradient",
    title="WGAN: the critic keeps a gradient where the GAN discriminator saturates",
    paper="Arjovsky, Chintala & Bottou 2017, Example 1 and Figure 2",
    statement="Between two distributions with disjoint supports the trained GAN discriminator saturates and its "
              "gradient vanishes at the fake samples, while the WGAN critic stays close to linear and gives a clean "
              "gradient everywhere.",
    study="",
    measures={"slope_at_fake": "relative slope at the fake samples: 1 for a straight line, ~0 for a saturated one"},
    parts=(Part("slope_at_fake", "gan-discriminator", Bound(0.05, above=False)),
           Part("slope_at_fake", "wgan-critic", Bound(0.5, above=True))),
    measure=_wgan_measure,
    figure=_wgan_figure,
    runs=("gan-discriminator", "wgan-critic"),
    notes="Both networks are trained inside the claim's stage on a fixed fake distribution, as the paper's "
          "figure does (no generator is involved).",
))
