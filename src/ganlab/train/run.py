"""One training run of params.yaml (``models.<run>``), as stage train@<run> and ``ganlab train`` do it.

Reads the run's dataset, builds the variant with the run's hyperparameters, trains it with the
run's trainer settings into OUT (default data/models/<run>), resuming from OUT/checkpoint.pt
when it belongs to the same settings; a run with ``pretrained_from`` starts from that run's
snapshot at its ``pretrain_steps`` (DATA_ROOT/models/<that run>/snapshots/step_N.pt). Under ``torchrun`` each process runs this same function.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ganlab.data.datasets import read_info
from ganlab.device import pick_device
from ganlab.errors import ParamsError
from ganlab.models import registry
from ganlab.models.base import DataSpec
from ganlab.runs import RunDir
from ganlab.schema import unknown_key_message
from ganlab.train import distributed
from ganlab.train.config import RunParams
from ganlab.train.data import at_image_size, dataset_id, loader_of
from ganlab.train.pretraining import Pretrained
from ganlab.train.trainer import Monitor, Restart, Trainer

log = logging.getLogger(__name__)


def find_run(models: Mapping[str, RunParams], name: str) -> RunParams:
    """Run ``name`` of ``models`` (params ``models:``); a ParamsError naming the closest run if there is none."""
    if name not in models:
        raise ParamsError(unknown_key_message(f"models.{name}", name, sorted(models)))
    return models[name]


def load_training_data(run: RunParams, data_root: Path, conditional: bool, split_name: str = "train",
                       where: str = "models.<run>") -> tuple[torch.Tensor, torch.Tensor | None, DataSpec, str]:
    """(the split as a tensor: images in [-1, 1] as (N, C, H, W), at ``train.image_size`` px when that is
    set, token ids as (N, L); labels or None; DataSpec; an id of the data's exact files), read as the kind
    in its dataset.json says. ``conditional``: the variant needs the class labels (DataSpec.n_classes is 0
    otherwise); ``where``: the run's key in params, for errors."""
    root = data_root / run.data
    images, labels, spec = loader_of(root).load(root, split_name, conditional)
    if run.train.image_size:
        images, spec = at_image_size(images, spec, run.train.image_size, read_info(root).get("kind"), run.data,
                                     f"{where}.train.image_size")
    return images, labels, spec, dataset_id(root)


def data_monitor(run: RunParams, data_root: Path, spec: DataSpec) -> Monitor | None:
    """The score a run is followed by while it trains: NLL-oracle on the oracle, BLEU and Self-BLEU
    against the test sentences on text, modes covered on the 2-D toys; None for images."""
    root = data_root / run.data
    return loader_of(root).monitor(root, spec, run.train.seed)


def train_run(models: Mapping[str, RunParams], name: str, data_root: str | Path = "data",
              out: str | Path | None = None, restart: Restart = "no", progress: bool = True) -> dict[str, Any]:
    """Train run ``name`` into OUT (default DATA_ROOT/models/<name>), continuing the run there when it has
    the same settings; ``restart``: what to do with a run there that it cannot continue (Trainer.fit)."""
    run = find_run(models, name)
    out = Path(out) if out is not None else RunDir.of(name, data_root).root
    device = distributed.setup(run.train.device) or pick_device(run.train.device)
    try:
        cls = registry.get(run.variant)
        needs_labels = cls.conditional or cls.labelled
        where = f"models.{name}"
        images, labels, spec, data_id = load_training_data(run, Path(data_root), needs_labels, where=where)
        test = None
        if cls.reads_test_split:
            test_x, test_y, _, _ = load_training_data(run, Path(data_root), needs_labels, "test", where)
            test = (test_x, test_y)
        log.info("%s: %s on %s, %d training examples of shape %s, on %s", name, run.variant, run.data, len(images),
                 spec.shape, device)
        torch.manual_seed(run.train.seed)  # the initial weights
        try:
            variant = cls(run.variant_config(), spec, device)
        except ValueError as exc:  # the networks cannot be built for the side train.image_size chose
            if not run.train.image_size:
                raise
            raise ParamsError(f"{where}.train.image_size = {run.train.image_size}: {run.variant} cannot be built "
                              f"for {spec.shape} images ({str(exc).splitlines()[0]})") from None
        pretrained = None
        if run.pretrained_from:  # the run's first pretrain_steps are that run's, shared (ganlab.train.pretraining)
            pretrained = Pretrained.of(run.pretrained_from, run.model.pretrain_steps, data_root)
        trainer = Trainer(variant, images, labels, run.train, out, data_id=data_id, test=test,
                          monitor=data_monitor(run, Path(data_root), spec), pretrained=pretrained)
        summary = trainer.fit(progress=progress, restart=restart)
        finish = loader_of(Path(data_root) / run.data).after_training
        if trainer.writer and finish is not None and summary["finished"]:
            finish(variant, images, Path(data_root) / run.data, out)
        return summary
    finally:
        distributed.teardown()
