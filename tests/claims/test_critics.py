"""WGAN-GP's claim on critic weights: the share of weights at their layer's extreme, clipped against penalised."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from torch import nn

from ganlab.catalogue import claim_items, read_catalogue
from ganlab.claims import critics as C
from ganlab.claims import verdict as V
from ganlab.claims.config import ClaimsParams, StudyParams
from ganlab.claims.study import run_study
from ganlab.errors import GanlabError
from ganlab.schema import from_dict
from ganlab.train.config import RunParams

ROOT = Path(__file__).resolve().parents[2]


def test_at_extremes_counts_the_weights_at_each_layers_largest_magnitude():
    clipped = np.array([0.01, -0.01, 0.01, 0.004, -0.0099, 0.0])  # 4 of 6 within 1% of 0.01
    spread = np.linspace(-1.0, 1.0, 201)  # only the two ends are within 1% of 1
    assert C.at_extremes([clipped]) == pytest.approx(4 / 6)
    assert C.at_extremes([spread]) == pytest.approx(4 / 201)  # -1, -0.99, 0.99, 1
    assert C.at_extremes([clipped, spread]) == pytest.approx(8 / 207)  # each layer against its own largest
    assert C.at_extremes([np.zeros(5)]) == 0.0


def test_layer_weights_reads_conv_and_linear_weights_not_biases_or_norms():
    critic = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 1))
    layers = C.layer_weights(critic)
    assert [w.size for w in layers] == [18, 8]
    with pytest.raises(GanlabError, match="no convolution or linear layer"):
        C.layer_weights(nn.Sequential(nn.ReLU()))


def test_clipping_pins_weights_that_the_penalty_leaves_free(mnist_root, tmp_path):
    """Both critics trained a few steps from the same seed on real digits, with a learning rate large enough
    for RMSProp to reach the clip in a few steps: the clipped critic's weights pile at +-c, the penalised one's
    do not. The claim's stage then writes its verdict, values and figure."""
    def run(variant: str, lr: float) -> RunParams:
        return from_dict(RunParams, {"variant": variant, "data": "mnist", "model": {"width": 4, "lr": lr},
                                     "train": {"steps": 6, "batch_size": 8, "sample_every": 6,
                                               "checkpoint_every": 6, "log_every": 1, "n_samples": 4}}, "models.r")
    claims = ClaimsParams(seeds=(0, 1), workers=1,
                          studies={C.STUDY: StudyParams(runs={C.CLIPPED: run("wgan", 0.05),
                                                              C.PENALISED: run("wgan_gp", 1e-4)})})
    run_study(claims, C.STUDY, mnist_root, mnist_root / "studies" / C.STUDY)
    V.write_claim(claims, "wgan-gp-clipping-weights", mnist_root, tmp_path / "claims")
    saved = json.loads((tmp_path / "claims" / "wgan-gp-clipping-weights.json").read_text())
    shares = saved["values"]["at_extremes"]
    assert set(shares) == set(C.RUNS) and all(set(v) == {"0", "1"} for v in shares.values())
    assert min(shares[C.CLIPPED].values()) > 0.5 > 0.05 > max(shares[C.PENALISED].values())
    assert saved["verdict"] == "reproduced" and saved["protocol"]["clip"] == 0.01
    assert (tmp_path / "claims" / "wgan-gp-clipping-weights.png").stat().st_size > 5000


def test_the_default_study_trains_the_default_runs():
    text = (ROOT / "params.yaml").read_text()
    raw = yaml.safe_load(text)
    for run in C.RUNS:
        mine, default = raw["claims"]["studies"][C.STUDY]["runs"][run], raw["models"][run]
        assert (mine["variant"], mine["data"], mine["model"]) == (default["variant"], default["data"],
                                                                  default["model"])
        assert (mine["train"]["steps"], mine["train"]["batch_size"]) == (default["train"]["steps"],
                                                                         default["train"]["batch_size"])
    items = [i for i in claim_items(read_catalogue(text)) if i.startswith("wgan-gp-clipping-weights:")]
    assert items == ["wgan-gp-clipping-weights: {needs: data/studies/critics, reads: data/code/claim.sha256, "
                     "params: claims.studies.critics}"]
