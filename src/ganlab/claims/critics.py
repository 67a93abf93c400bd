"""WGAN-GP's claim on the critic's weights: clipping piles them at the clip values, the gradient penalty does not.

Gulrajani et al. 2017 (section 3, Figure 1b) show histograms of a critic's weights: trained with WGAN's weight
clipping they gather at the two ends of the clipping range, +-c; trained with the gradient penalty they spread
out. Study ``critics`` trains ``models.wgan`` and ``models.wgan_gp``'s settings once per seed (the default runs'
networks and schedules; a test keeps them in step), and each seed's critic is read from its checkpoint.

The measure, **at_extremes**, is the same for both critics and needs no clip value: the share of the critic's
weights (every convolution and linear layer's weight tensor; not biases, not batch-norm parameters) whose
magnitude is within :data:`NEAR` (1%) of the largest magnitude in their layer. A clipped layer whose weights
reached the bound has its largest magnitude at c and every weight pinned there counted; a layer free to spread
has only its tail near its largest weight.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import nn

from ganlab.claims.claim import Claim, Measured, Part, claim
from ganlab.claims.config import ClaimsParams
from ganlab.claims.rules import Bound
from ganlab.errors import GanlabError
from ganlab.images import save_figure

STUDY = "critics"
CLIPPED, PENALISED = "wgan", "wgan_gp"
RUNS = (CLIPPED, PENALISED)
NEAR = 0.01  # a weight within 1% of its layer's largest magnitude counts as at the extreme
PILED = 0.5  # the rule: most of the clipped critic's weights sit at the clip values (the paper's two spikes)
SPREAD = 0.05  # the rule: at most one weight in twenty of the penalised critic sits at its layer's extreme


def layer_weights(critic: nn.Module) -> list[np.ndarray]:
    """The weight tensor of every convolution and linear layer of ``critic``, flattened (float64)."""
    out = [m.weight.detach().double().flatten().numpy() for m in critic.modules()
           if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear)]
    if not out:
        raise GanlabError(f"a {type(critic).__name__} critic has no convolution or linear layer to read weights from")
    return out


def at_extremes(layers: list[np.ndarray], near: float = NEAR) -> float:
    """Share of all weights within ``near`` of their layer's largest magnitude (module docstring)."""
    hits = total = 0
    for w in layers:
        top = float(np.abs(w).max())
        hits += int((np.abs(w) >= (1 - near) * top).sum()) if top > 0 else 0
        total += w.size
    return hits / total


def _measure(claims: ClaimsParams, study_dir: Path, data_root: Path) -> Measured:
    from ganlab.claims.toy import trained  # rebuilds a study run with every network from its checkpoint

    values: dict[str, dict[str, dict[int, float]]] = {"at_extremes": {run: {} for run in RUNS}}
    figure: dict = {"weights": {}, "clip": None, "seed": None}
    for run in RUNS:
        for seed in claims.seeds_of(STUDY):
            variant, _ = trained(claims, STUDY, run, seed, study_dir, data_root)
            layers = layer_weights(variant.nets["discriminator"])
            values["at_extremes"][run][seed] = at_extremes(layers)
            if run not in figure["weights"]:
                figure["weights"][run] = np.concatenate(layers)
                figure["seed"] = seed
        if run == CLIPPED:
            figure["clip"] = float(claims.studies[STUDY].runs[run].variant_config().clip)
    protocol = {
        "weights": "every convolution and linear layer's weight tensor of the critic (not biases, not batch-norm "
                   "parameters), read from each seed's checkpoint.pt at the end of training",
        "at_extremes": f"share of those weights whose |w| >= (1 - {NEAR:g}) x their layer's largest |w|",
        "clip": figure["clip"],
    }
    return Measured(values, protocol, figure)


def _figure(measured: Measured, path: Path) -> None:
    from matplotlib.figure import Figure

    f = measured.figure_data
    fig = Figure(figsize=(10, 3.6))
    for i, run in enumerate(RUNS):
        ax = fig.add_subplot(1, len(RUNS), i + 1)
        w = f["weights"][run]
        ax.hist(w, bins=101, color=f"C{i}")
        ax.set_yscale("log")
        if run == CLIPPED and f["clip"]:
            for sign in (-1, 1):
                ax.axvline(sign * f["clip"], color="k", ls="--", lw=1, label="clip values" if sign > 0 else None)
            ax.legend(fontsize=8)
        share = measured.values["at_extremes"][run][f["seed"]]
        ax.set_title(f"{run} critic, seed {f['seed']}: {share:.0%} of weights at their layer's extreme", fontsize=9)
        ax.set_xlabel("weight value")
        ax.set_ylabel("weights (log scale)")
    save_figure(fig, path)


claim(Claim(
    id="wgan-gp-clipping-weights",
    title="WGAN-GP: weight clipping piles the critic's weights at the clip values; the gradient penalty does not",
    paper="Gulrajani, Ahmed, Arjovsky, Dumoulin & Courville 2017 (section 3, Figure 1b)",
    statement="A critic kept Lipschitz by clipping its weights to [-c, c] ends with its weights at the two clip "
              "values; one kept Lipschitz by the gradient penalty has its weights spread out.",
    study=STUDY,
    measures={"at_extremes": f"share of the critic's conv and linear weights within {NEAR:.0%} of their layer's "
                             "largest magnitude"},
    parts=(Part("at_extremes", CLIPPED, Bound(PILED, above=True)),
           Part("at_extremes", PENALISED, Bound(SPREAD, above=False))),
    measure=_measure,
    figure=_figure,
    published=({"source": "Gulrajani et al. 2017, Figure 1b", "setting": "a critic on a toy dataset",
                "method": "WGAN (clipping) / WGAN-GP", "measure": "histogram of critic weights",
                "value": "clipping: two spikes at +-c; penalty: spread (by eye)"},),
    runs=RUNS,
    notes="Stated before the runs: the bounds (at least half of the clipped critic's weights at the extremes, at "
          "most 5% of the penalised one's) are this lab's reading of the paper's histograms, which give no number. "
          "The two critics are the default runs' (models.wgan, models.wgan_gp): the same DCGAN convolutions, with "
          "batch norm in the clipped one (the WGAN paper's) and none in the penalised one (the penalty is per "
          "sample); the measure reads the conv and linear weights only.",
))
