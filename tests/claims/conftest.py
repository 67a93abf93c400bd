"""Fixtures of the claims' tests."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ganlab.data.datasets import write_content
from ganlab.data.formats import ImageData, ImageSplit
from ganlab.eval.evaluator import Evaluator, EvaluatorNet, save_evaluator

MNIST_CLASSES = [str(k) for k in range(10)]


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory):
    """A data root with a labelled 28-px dataset 'mnist' of noise (40 images a split) and a random evaluator
    network of its ten classes (evaluators/mnist), for the claims that read one."""
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    splits = {s: ImageSplit(rng.integers(0, 256, (40, 28, 28, 1), dtype=np.uint8), np.arange(40) % 10)
              for s in ("train", "test")}
    folder = root / "mnist"
    folder.mkdir()
    info = write_content(ImageData(splits, MNIST_CLASSES), folder)
    (folder / "dataset.json").write_text(json.dumps({"name": "mnist", **info}))
    torch.manual_seed(0)
    net = EvaluatorNet(1, 10, 28, width=4, features=16).eval()
    save_evaluator(Evaluator(net, {"dataset": "mnist", "classes": MNIST_CLASSES}),
                   root / "evaluators" / "mnist" / "evaluator.pt")
    return root
