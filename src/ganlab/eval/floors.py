"""What a failed generator scores under the protocol, and whether a run is clear of it.

Two failures a sample grid shows at a glance, measured like a run (stage reference@<dataset>, beside the real
held-out images' numbers) so that a table can show them too:

- **one image**: a held-out image repeated ``n_fake`` times, a generator collapsed onto one point. Its IS is 1
  (every sample the same class distribution) and its recall about 0 (the k-NN ball of a repeated point has
  radius 0).
- **noise**: ``n_fake`` images of uniform random pixels, a generator that learnt nothing.

The rule (:func:`judge`), fixed here before any run is judged by it: on IS and on recall, a run must get at
least :data:`SHARE` of the way from the better of the two failures to the real held-out images,
``(run - floor) / (real - floor) >= SHARE``. One tenth is the share a generator that drew a single class in ten
(and drew it well) would reach on recall: it covers about a tenth of the real images. A run below it on recall
covers less of the data than that; below it on IS, it draws fewer distinct classes than about two. Where the
failures score as well as the real images (faces under the CIFAR-10 evaluator: real faces are one class to it),
the measure cannot tell them apart and is not judged.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ganlab.eval import metrics as M

SHARE = 0.1  # of the way from the floor to the real images (module docstring)
MEASURES = {"is_mean": "IS", "recall": "recall"}  # higher is better on both
FAILURES = ("one-image", "noise")


def one_image_features(features: M.Features, n: int) -> M.Features:
    """The features of one image (the first row of ``features``) repeated ``n`` times: a generator that always
    draws that image. The extractor is deterministic in eval mode, so repeating its features is repeating the
    image."""
    protocol = {**features.protocol, "run": "one image repeated", "n": n}
    return M.Features({k: np.repeat(v[:1], n, axis=0) for k, v in features.arrays.items()}, protocol)


def noise_images(shape: tuple[int, ...], n: int, seed: int) -> np.ndarray:
    """``n`` uint8 (H, W, C) images of independent uniform pixels, drawn with ``seed``."""
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


def judge(run: dict[str, Any], real: dict[str, Any] | None, floors: dict[str, dict[str, Any]] | None
          ) -> dict[str, Any]:
    """The rule of the module docstring for one run's result against its dataset's real result and floors.

    Returns ``{"verdict": "clear" | "below" | "unjudged", "measures": {measure: {...}}}``: clear when every
    judged measure is at least :data:`SHARE` of the way up, below when one is not, unjudged when no measure can
    be judged (no floors measured, or the failures score as the real images do)."""
    out: dict[str, Any] = {"rule": f"(run - floor) / (real - floor) >= {SHARE:g} on {' and '.join(MEASURES.values())},"
                                   f" floor = the better of {' and '.join(FAILURES)}", "measures": {}}
    if not real or not floors or any(f not in floors for f in FAILURES):
        return {**out, "verdict": "unjudged", "why": "no floors measured for this dataset"}
    verdicts = []
    for key, label in MEASURES.items():
        value, top = run.get(key), real.get(key)
        floor = max(float(floors[f][key]) for f in FAILURES)
        entry: dict[str, Any] = {"value": value, "floor": floor, "real": top}
        if value is None or top is None or not math.isfinite(float(value)) or float(top) <= floor:
            entry["verdict"] = "unjudged"
            entry["why"] = ("the failures score as high as the real images" if top is not None and float(top) <= floor
                            else "no value")
        else:
            entry["share"] = (float(value) - floor) / (float(top) - floor)
            entry["verdict"] = "clear" if entry["share"] >= SHARE else "below"
            verdicts.append(entry["verdict"])
        out["measures"][label] = entry
    if not verdicts:
        return {**out, "verdict": "unjudged", "why": "no measure separates the failures from the real images"}
    return {**out, "verdict": "below" if "below" in verdicts else "clear"}


def cell(verdict: dict[str, Any]) -> str:
    """A table cell: ``clear``, ``below: IS, recall`` or ``-`` (unjudged)."""
    if verdict["verdict"] == "clear":
        return "clear"
    if verdict["verdict"] == "below":
        return "below: " + ", ".join(k for k, e in verdict["measures"].items() if e["verdict"] == "below")
    return "-"
