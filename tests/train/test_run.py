"""One run of params.yaml (ganlab.train.run): what it reads besides the training split."""

from __future__ import annotations

import json

import numpy as np


def test_train_run_scores_sgan_on_the_test_split(tmp_path):
    """ganlab.train.run loads the test split for a variant that evaluates itself."""
    from ganlab.data.datasets import write_content
    from ganlab.data.formats import ImageData, ImageSplit
    from ganlab.params import Params
    from ganlab.schema import from_dict
    from ganlab.train.run import train_run

    rng = np.random.default_rng(0)
    splits = {s: ImageSplit(rng.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8), np.arange(n) % 3)
              for s, n in (("train", 30), ("test", 9))}
    root = tmp_path / "data" / "mnist"
    root.mkdir(parents=True)
    info = write_content(ImageData(splits, ["a", "b", "c"]), root)
    (root / "dataset.json").write_text(json.dumps({"name": "mnist", **info}))
    params = from_dict(Params, {"models": {"s": {"variant": "sgan", "model": {"width": 4, "labels_per_class": 2},
                                                 "train": {"steps": 2, "batch_size": 6, "dvclive": False}}}}, "")
    summary = train_run(params.models, "s", tmp_path / "data", progress=False)
    assert summary["test"]["n_test"] == 9 and summary["test"]["n_labelled"] == 6
    assert 0 <= summary["test"]["accuracy"] <= 1
