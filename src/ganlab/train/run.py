"""One training run of params.yaml (``models.<run>``), as stage train@<run> and ``ganlab train`` do it.

Reads the run's dataset, builds the variant with the run's hyperparameters, trains it with the
run's trainer settings into OUT (default data/models/<run>), resuming from OUT/checkpoint.pt
when it belongs to the same settings. Under ``torchrun`` each process runs this same function.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganlab.data import oracle as oracle_data
from ganlab.data import text as text_data
from ganlab.data import toy
from ganlab.data.datasets import INFO_FILE, load_images, load_text, read_info
from ganlab.device import pick_device
from ganlab.eval.sequences import NllOracle, TextQuality
from ganlab.errors import ParamsError
from ganlab.images import save_figure, to_tensor
from ganlab.models import registry
from ganlab.models.base import DataSpec, Variant
from ganlab.params import Params, RunParams, _unknown_key_message
from ganlab.runs import RunDir
from ganlab.train import distributed
from ganlab.train.trainer import Monitor, Trainer

log = logging.getLogger(__name__)

MAX_CLASSES = 1000  # a conditional model's one-hot input grows with this; face identities are not classes


def find_run(params: Params, name: str) -> RunParams:
    if name not in params.models:
        raise ParamsError(_unknown_key_message(f"models.{name}", name, sorted(params.models)))
    return params.models[name]


def load_training_data(run: RunParams, data_root: Path, conditional: bool, split_name: str = "train"
                       ) -> tuple[torch.Tensor, torch.Tensor | None, DataSpec, str]:
    """(images in [-1, 1] as (N, C, H, W), labels or None, DataSpec, an id of the data's exact files).
    ``conditional``: the variant needs the class labels (DataSpec.n_classes is 0 otherwise)."""
    root = data_root / run.data
    if run.data == oracle_data.NAME:
        tokens, _, info = oracle_data.load_oracle(root)
        images, labels, spec = tokens, None, DataSpec((info["length"],), 0, vocab=info["vocab"])
    elif read_info(root).get("kind") == "text":
        tokens, vocab = text_data.encode_corpus(load_text(root, "train"))
        images, labels = torch.from_numpy(tokens), None
        spec = DataSpec((tokens.shape[1],), 0, vocab=len(vocab.words), words=vocab.words, end_token=vocab.end)
    elif run.data == toy.NAME:
        x, _ = toy.load_toy(root)
        images, labels, spec = torch.from_numpy(x).view(-1, 1, 1, 1), None, DataSpec((1, 1, 1), 0)
    else:
        split, class_names = load_images(root, split_name)
        images = to_tensor(split.images)
        labels = torch.from_numpy(np.asarray(split.labels, dtype=np.int64)) if split.labels is not None else None
        n_classes = len(class_names) if labels is not None else 0
        if conditional and not 2 <= n_classes <= MAX_CLASSES:
            raise ParamsError(f"models.*.data = {run.data!r}: a conditional variant needs 2..{MAX_CLASSES} classes, "
                              f"the dataset has {n_classes}")
        spec = DataSpec(tuple(images.shape[1:]), n_classes if conditional else 0)
    data_id = hashlib.sha256((root / INFO_FILE).read_bytes()).hexdigest()[:16]
    return images, labels, spec, data_id


def data_monitor(run: RunParams, data_root: Path, spec: DataSpec) -> Monitor | None:
    """The score a sequence run is followed by while it trains: NLL-oracle on the oracle, BLEU and
    Self-BLEU against the test sentences on text; None for images."""
    root = data_root / run.data
    if run.data == oracle_data.NAME:
        _, oracle, info = oracle_data.load_oracle(root)
        return NllOracle(oracle, info, seed=run.train.seed)
    if spec.words:
        return TextQuality(load_text(root, "test"), seed=run.train.seed)
    return None


def train_run(params: Params, name: str, data_root: str | Path = "data", out: str | Path | None = None,
              resume: bool = True, progress: bool = True) -> dict[str, Any]:
    run = find_run(params, name)
    out = Path(out) if out is not None else RunDir.of(name, data_root).root
    device = distributed.setup(run.train.device) or pick_device(run.train.device)
    try:
        cls = registry.get(run.variant)
        needs_labels = cls.conditional or cls.labelled
        images, labels, spec, data_id = load_training_data(run, Path(data_root), needs_labels)
        test = None
        if cls.evaluate is not Variant.evaluate or cls.test_figures is not Variant.test_figures:  # it reads the test split
            test_x, test_y, _, _ = load_training_data(run, Path(data_root), needs_labels, "test")
            test = (test_x, test_y)
        log.info("%s: %s on %s, %d training examples of shape %s, on %s", name, run.variant, run.data, len(images),
                 spec.shape, device)
        torch.manual_seed(run.train.seed)  # the initial weights
        variant = cls(run.variant_config(), spec, device)
        trainer = Trainer(variant, images, labels, run.train, out, data_id=data_id, test=test,
                          monitor=data_monitor(run, Path(data_root), spec))
        summary = trainer.fit(resume=resume, progress=progress)
        if trainer.writer and run.data == toy.NAME and summary["finished"]:
            plot_toy(variant, images, RunDir(out).samples / "histogram.png")
        return summary
    finally:
        distributed.teardown()


@torch.no_grad()
def plot_toy(variant: Any, data: torch.Tensor, path: Path) -> Path:
    """Histogram of the data against the generator's samples, and D(x) across the range (the
    GAN paper's Figure 1)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variant.nets.eval()
    x = data.flatten().numpy()
    fake = variant.sample(variant.noise(len(x), torch.Generator().manual_seed(0))).flatten().cpu().numpy()
    lo, hi = min(x.min(), fake.min()), max(x.max(), fake.max())
    grid = torch.linspace(float(lo), float(hi), 200).view(-1, 1).to(variant.device)
    d = torch.sigmoid(variant.nets["discriminator"](grid)).flatten().cpu().numpy()
    g = variant.nets["generator"]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    bins = np.linspace(lo, hi, 60)
    ax.hist(x, bins, density=True, alpha=0.5, label="data")
    ax.hist(fake, bins, density=True, alpha=0.5, label=f"G(z) = {g.weight.item():.2f} z + {g.bias.item():.2f}")
    ax2 = ax.twinx()
    ax2.plot(grid.flatten().cpu().numpy(), d, "k--", label="D(x)")
    ax2.set_ylim(0, 1)
    ax.set_xlabel("x")
    ax.legend(loc="upper left", fontsize=8)
    ax2.legend(loc="upper right", fontsize=8)
    save_figure(fig, path)
    plt.close(fig)
    return path
