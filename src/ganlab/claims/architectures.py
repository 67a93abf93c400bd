"""Claims that a loss trains networks on which the regular GAN fails: DCGAN's generator without batch norm.

LSGAN (Mao et al. 2017, section 4.3 and Figure 5), WGAN (Arjovsky et al. 2017, section 4.3 and Figure 5) and
WGAN-GP (Gulrajani et al. 2017, section 5.1 and Figure 2) each show the same experiment: take away the
generator's batch norm, and the regular GAN stops drawing the data while their loss still does. Study
``no-batchnorm`` trains the regular GAN (models.dcgan's settings), LSGAN, WGAN and WGAN-GP (their models.* runs'
settings) once per seed, each with ``g_norm: none``.

"Fails" and "draws the data" are the failure floors' rule (:mod:`ganlab.eval.floors`), the same that judges every
default run in the metrics table: the measure **floor_share** is the lesser of IS's and recall's share of the way
from the better of two failures (one image repeated; uniform noise) to the real held-out images, each scored under
the metrics' protocol. A run with floor_share >= 0.1 clears the floors; below 0.1 it fails. Each claim has two
parts, both stated before the runs: its loss clears the floors in every seed, and the regular GAN, on the same
generator, does not.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ganlab.claims.ablations import N_FAKE, N_REAL, SEED, ablation_figure, sample_quality
from ganlab.claims.claim import Claim, Measured, Part, claim
from ganlab.claims.config import ClaimsParams
from ganlab.claims.rules import Bound
from ganlab.eval import floors

STUDY = "no-batchnorm"
GAN = "gan"
KEYS = ("floor_share", "is_mean", "recall", "fid", "precision")


def floor_share(scores: dict[str, Any], real: dict[str, Any], failures: dict[str, Any]) -> float:
    """The lesser of the judged measures' shares of the way from the floor to the real images (NaN when the
    floors judge none of them)."""
    judged = floors.judge(scores, real, failures)["measures"]
    shares = [e["share"] for e in judged.values() if "share" in e]
    return min(shares) if shares else math.nan


def real_and_floors(ref_dir: Path, image_shape: tuple[int, int, int]) -> dict[str, Any]:
    """The real held-out images' metrics and the two failures' (``floors``), under the protocol of
    :func:`ganlab.claims.ablations.sample_quality`, as stage reference@<dataset> measures them for the metrics
    table; ``image_shape`` (H, W, C)."""
    from ganlab.eval.config import MetricsParams
    from ganlab.eval.extractors import get_extractor
    from ganlab.eval.pipeline import load_reference, real_baseline

    _, ref = load_reference(ref_dir, "train")
    extractor = get_extractor(ref["extractor_kind"], ref["extractor_weights_path"])
    protocol = MetricsParams(reference_split="train", n_real=N_REAL, n_fake=N_FAKE, seed=SEED)
    return real_baseline(protocol, ref_dir, extractor, image_shape)


def _measure(runs: tuple[str, str]):
    def measure(claims: ClaimsParams, study_dir: Path, data_root: Path) -> Measured:
        from ganlab.claims.study import seed_dir

        dataset = claims.studies[STUDY].runs[runs[0]].data
        ref_dir = Path(data_root) / "references" / dataset
        values: dict[str, dict[str, dict[int, float]]] = {k: {run: {} for run in runs} for k in KEYS}
        figure: dict[str, Any] = {"grids": {}, "runs": runs, "judged": "floor_share", "line": floors.SHARE}
        baseline = None
        for run in runs:
            for seed in claims.seeds_of(STUDY):
                scores, images = sample_quality(seed_dir(study_dir, run, seed).generator, ref_dir, N_FAKE, N_REAL,
                                                SEED)
                if baseline is None:
                    baseline = real_and_floors(ref_dir, (images.shape[2], images.shape[3], images.shape[1]))
                scores["floor_share"] = floor_share(scores, baseline, baseline["floors"])
                for k in KEYS:
                    values[k][run][seed] = scores[k]
                figure["grids"].setdefault(run, (images[:64], seed))
        protocol = {"generated": f"{N_FAKE} samples a seed, noise seed {SEED}",
                    "real": f"{N_REAL} train images of {dataset} drawn with seed {SEED} (stage reference@{dataset})",
                    "extractor": f"the reference's (data/references/{dataset}/reference.json)",
                    "floors": {"rule": f"(run - floor) / (real - floor) >= {floors.SHARE:g} on IS and recall, floor "
                                       "the better of one image repeated and uniform noise (ganlab.eval.floors)",
                               "real": {k: baseline[k] for k in ("is_mean", "recall")} if baseline else {},
                               "one-image": {k: baseline["floors"]["one-image"][k] for k in ("is_mean", "recall")}
                               if baseline else {},
                               "noise": {k: baseline["floors"]["noise"][k] for k in ("is_mean", "recall")}
                               if baseline else {}}}
        return Measured(values, protocol, figure)
    return measure


MEASURES = {"floor_share": "the lesser of IS's and recall's share of the way from the failure floor to the real "
                           "held-out images (ganlab.eval.floors; 0.1 clears the floors)",
            "is_mean": "Inception Score by the dataset's evaluator (reported, not judged)",
            "recall": "recall, k = 3 (reported, not judged)",
            "fid": "FID of 5,000 samples against 5,000 real train images (reported, not judged)",
            "precision": "precision, k = 3 (reported, not judged)"}
GAN_FAILS = Part("floor_share", GAN, Bound(floors.SHARE, above=False))
NOTES = ("Stated before the runs: both parts by the failure floors' rule, which judges every default run. Each run "
         "mirrors its models.* run on MNIST at 28 px (the regular GAN mirrors models.dcgan) with g_norm none: "
         "no batch norm anywhere in the generator, a bias in each of its layers; the discriminators keep theirs. "
         "If the regular GAN also clears the floors, this setting does not show the claim and the verdict says "
         "not reproduced.")


def _claim(id: str, run: str, title: str, paper: str, statement: str, published: tuple[dict[str, Any], ...]) -> None:
    claim(Claim(
        id=id, title=title, paper=paper, statement=statement, study=STUDY, measures=MEASURES,
        parts=(Part("floor_share", run, Bound(floors.SHARE, above=True)), GAN_FAILS),
        measure=_measure((run, GAN)), figure=ablation_figure, published=published, runs=(run, GAN),
        reads_reference=True, notes=NOTES))


_claim("lsgan-no-batchnorm", "lsgan",
       "LSGAN: trains a generator without batch norm on which the regular GAN fails",
       "Mao, Li, Xie, Lau, Wang & Smolley 2017 (section 4.3, Figure 5)",
       "With no batch norm in the generator (Adam, as DCGAN), the regular GAN collapses while LSGAN still "
       "generates the data: the least-squares loss is the more stable.",
       ({"source": "Mao et al. 2017, Figure 5 (b) and (d)", "setting": "LSUN, no batch norm in G, Adam",
         "method": "regular GAN against LSGAN", "measure": "samples", "value": "GAN collapses; LSGAN draws rooms "
         "(by eye)"},))
_claim("wgan-no-batchnorm", "wgan",
       "WGAN: trains a generator without batch norm on which the regular GAN fails",
       "Arjovsky, Chintala & Bottou 2017 (section 4.3, Figure 5)",
       "A DCGAN generator without batch norm (and a constant number of filters) trained with WGAN gives good "
       "samples; the standard GAN with the same networks fails to learn.",
       ({"source": "Arjovsky et al. 2017, Figure 5", "setting": "LSUN bedrooms 64 px, no batch norm in G",
         "method": "WGAN against standard GAN", "measure": "samples", "value": "WGAN draws bedrooms; GAN fails "
         "(by eye)"},))
_claim("wgan-gp-no-batchnorm", "wgan_gp",
       "WGAN-GP: trains a generator without batch norm on which the regular GAN fails",
       "Gulrajani, Ahmed, Arjovsky, Dumoulin & Courville 2017 (section 5.1, Figure 2)",
       "The gradient penalty trains architectures the other losses fail on; among their Figure 2's, a DCGAN "
       "generator with no batch norm and constant filters, where the standard GAN fails.",
       ({"source": "Gulrajani et al. 2017, Figure 2", "setting": "LSUN bedrooms 64 px, no BN and constant filters "
         "in G", "method": "WGAN-GP against DCGAN's loss", "measure": "samples",
         "value": "WGAN-GP draws bedrooms; DCGAN fails (by eye)"},))
