"""The failure floors (ganlab.eval.floors): one image repeated and uniform noise, and the rule a run is judged by."""

from __future__ import annotations

import numpy as np
import pytest

from ganlab.eval import floors
from ganlab.eval import metrics as M

PROTOCOL = {"extractor": "e", "extractor_weights_sha256": "w", "feature_layers": {m: "f" for m in
                                                                                  ("isc", "fid", "kid", "prc")}}


def features(x: np.ndarray) -> M.Features:
    return M.Features({"f": x.astype(np.float32)}, dict(PROTOCOL))


def test_one_image_scores_is_1_and_recall_0_and_noise_is_reproducible() -> None:
    rng = np.random.default_rng(0)
    real, held_out = features(rng.standard_normal((200, 6))), features(rng.standard_normal((200, 6)))
    one = floors.one_image_features(held_out, 150)
    assert len(one) == 150 and np.array_equal(one.arrays["f"], np.repeat(held_out.arrays["f"][:1], 150, 0))
    scores = M.compute_metrics(one, real, is_splits=2, kid_subsets=5, kid_subset_size=50, pr_k=3)
    assert scores["is_mean"] == pytest.approx(1.0, abs=1e-6) and scores["recall"] == 0.0
    assert scores["fid"] > M.compute_metrics(held_out, real, is_splits=2, kid_subsets=5, kid_subset_size=50)["fid"]
    a, b = floors.noise_images((5, 4, 3), 7, seed=2), floors.noise_images((5, 4, 3), 7, seed=2)
    assert a.dtype == np.uint8 and a.shape == (7, 5, 4, 3) and np.array_equal(a, b)
    assert not np.array_equal(a, floors.noise_images((5, 4, 3), 7, seed=3)) and a.min() < 30 and a.max() > 225


FLOORS = {"one-image": {"is_mean": 1.0, "recall": 0.0}, "noise": {"is_mean": 1.4, "recall": 0.002}}
REAL = {"is_mean": 9.4, "recall": 0.802}


@pytest.mark.parametrize(("run", "verdict", "cell"), [
    ({"is_mean": 9.0, "recall": 0.7}, "clear", "clear"),
    ({"is_mean": 2.2, "recall": 0.0822}, "clear", "clear"),  # just at a tenth of the way on both
    ({"is_mean": 4.0, "recall": 0.08}, "below", "below: recall"),
    ({"is_mean": 2.1, "recall": 0.5}, "below", "below: IS"),
    ({"is_mean": 1.0, "recall": 0.0}, "below", "below: IS, recall"),  # the collapsed generator itself
])
def test_a_run_is_judged_by_how_far_it_gets_from_the_better_failure_to_the_real_images(run, verdict, cell) -> None:
    judged = floors.judge(run, REAL, FLOORS)
    assert judged["verdict"] == verdict and floors.cell(judged) == cell
    recall = judged["measures"]["recall"]
    assert recall["floor"] == 0.002 and recall["share"] == pytest.approx((run["recall"] - 0.002) / 0.8)


def test_a_measure_on_which_the_failures_match_the_real_images_is_not_judged() -> None:
    """Faces under the CIFAR-10 evaluator: real faces score IS 1.3, noise may score more."""
    judged = floors.judge({"is_mean": 1.2, "recall": 0.6}, {"is_mean": 1.33, "recall": 0.9},
                          {"one-image": {"is_mean": 1.0, "recall": 0.0}, "noise": {"is_mean": 1.5, "recall": 0.0}})
    assert judged["measures"]["IS"]["verdict"] == "unjudged" and judged["verdict"] == "clear"
    assert floors.judge({"is_mean": 1.2, "recall": 0.6}, {"is_mean": 1.33, "recall": 0.9}, None)["verdict"] == "unjudged"
    assert floors.cell(floors.judge({"is_mean": 3.0, "recall": 0.1}, REAL, {"noise": FLOORS["noise"]})) == "-"
