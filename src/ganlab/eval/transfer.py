"""DCGAN's transfer test: a trained discriminator's convolutional features, classified by an L2-SVM.

Radford, Metz & Chintala, "Unsupervised Representation Learning with Deep Convolutional
Generative Adversarial Networks", ICLR 2016, section 5.1 and Table 1: every convolutional layer's
output is max-pooled to a 4x4 grid, flattened and concatenated; a regularised linear L2-SVM
trained on those features of CIFAR-10's train split is scored on its test split (82.8%, with a
discriminator trained on ImageNet-1k). Here each discriminator named under ``transfer.runs`` is
measured beside two baselines in the same run: the same architecture freshly initialised (what
training added) and the raw pixels (what any features added).

Steps: rebuild each run's variant from params.yaml and load its checkpoint (checked before any
work), extract features of all CIFAR-10 images, standardise them with the train split's
statistics, choose C on a stratified held-out part of train, refit on all of train, score on test
(ganlab.eval.svm). Everything that shapes a number goes into the protocol of the report.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ganlab import runs
from ganlab.data.datasets import load_images, read_info
from ganlab.device import pick_device
from ganlab.errors import GanlabError
from ganlab.eval.config import TransferConfig
from ganlab.eval.extractors import adapt_images
from ganlab.eval.svm import Standardizer, accuracy, select_c_and_refit
from ganlab.files import write_json_atomic, write_text_atomic
from ganlab.images import nchw, to_unit_range
from ganlab.models import registry
from ganlab.models.base import DataSpec, without_optimizers
from ganlab.schema import unknown_key_message
from ganlab.train.config import RunParams, check_image_size

log = logging.getLogger(__name__)

DATASET = "cifar10"
ROLE = "discriminator"
RAW = "raw-pixels"
RANDOM_SUFFIX = "@random-init"

#: Radford et al. 2016, Table 1 (CIFAR-10 test accuracy, L2-SVM or the method's own classifier); not re-run here
PUBLISHED = (
    {"name": "DCGAN + L2-SVM (the paper)", "test_accuracy": 0.828,
     "note": "discriminator trained on ImageNet-1k (not on CIFAR-10); 28,672-d features; Radford et al. 2016, Table 1"},
    {"name": "1 Layer K-means", "test_accuracy": 0.806, "note": "Coates & Ng 2011, via Radford et al. 2016, Table 1"},
    {"name": "3 Layer K-means Learned RF", "test_accuracy": 0.820,
     "note": "Coates & Ng 2011, via Radford et al. 2016, Table 1"},
    {"name": "Exemplar CNN", "test_accuracy": 0.843,
     "note": "Dosovitskiy et al. 2014, via Radford et al. 2016, Table 1"},
)


class TransferError(GanlabError):
    """A discriminator cannot be measured: unknown run, no checkpoint, no convolutional features."""


# --------------------------------------------------------------------------- discriminators


@dataclass
class Discriminator:
    """A discriminator to measure: its network, the input it takes and where it came from."""

    name: str  # the table row: the run, or run@random-init
    net: nn.Module
    shape: tuple[int, int, int]  # (C, H, W) of its training images
    trained_on: dict[str, Any]  # dataset, its dataset.json variant, step (empty for random weights)


def conv_layers(net: nn.Module, what: str) -> list[int]:
    """Positions in the Sequential ``net`` where a conv block ends (just before the next Conv2d),
    leaving out the last convolution, which makes the logits. A clear error for anything else."""
    if not isinstance(net, nn.Sequential):
        raise TransferError(f"{what}: the discriminator is a {type(net).__name__}, not a stack of layers "
                            "(nn.Sequential) that the transfer test can walk; variants built on "
                            "dcgan_discriminator (dcgan, wgan_gp, sngan, lsgan, wgan) can be measured")
    convs = [i for i, m in enumerate(net) if isinstance(m, nn.Conv2d)]
    if len(convs) < 2:
        raise TransferError(f"{what}: the discriminator has {len(convs)} convolution(s); the transfer test needs "
                            "convolutional features before the output layer")
    return [i - 1 for i in convs[1:]]


@torch.no_grad()
def conv_features(net: nn.Sequential, images: torch.Tensor, pool: int = 4, batch_size: int = 500,
                  progress: bool = False) -> torch.Tensor:
    """uint8 (N, C, H, W) images -> float32 (N, sum_l C_l * pool * pool): every conv block's output
    (after its normalisation and nonlinearity), adaptive-max-pooled to pool x pool, flattened and
    concatenated, in layer order. The net runs in eval mode (batch norm's running statistics)."""
    ends = set(conv_layers(net, type(net).__name__))
    last = max(ends)
    device = next(net.parameters()).device
    was_training = net.training
    net.eval()
    parts = []
    try:
        for start in tqdm(range(0, len(images), batch_size), desc="features", leave=False, disable=not progress):
            h = to_unit_range(images[start : start + batch_size].to(device))  # the trainer's [-1, 1]
            pooled = []
            for i, layer in enumerate(net):
                h = layer(h)
                if i in ends:  # (B, C_l, H_l, W_l) -> (B, C_l * pool * pool)
                    pooled.append(F.adaptive_max_pool2d(h, pool).flatten(1))
                if i == last:
                    break
            parts.append(torch.cat(pooled, 1).float().cpu())
    finally:
        net.train(was_training)
    if not parts:
        return torch.zeros(0, feature_dim(net, pool))
    return torch.cat(parts)


def feature_dim(net: nn.Sequential, pool: int = 4) -> int:
    """The length of :func:`conv_features`' vectors (whatever the image size: every layer is pooled)."""
    ends = conv_layers(net, type(net).__name__)
    channels = [m.out_channels for m in net if isinstance(m, nn.Conv2d)][: len(ends)]
    return sum(channels) * pool * pool


def _build(models: Mapping[str, RunParams], run_name: str, data_root: Path, seed: int
           ) -> tuple[Any, RunParams, dict[str, Any]]:
    """(the run's variant with fresh weights drawn with ``seed``, its RunParams, its dataset.json)."""
    if run_name not in models:
        raise TransferError(unknown_key_message(f"models.{run_name}", run_name, sorted(models))
                            .replace("unknown key", "transfer.runs: no such run"))
    run = models[run_name]
    cls = registry.get(run.variant)
    if cls.data_kind != "images":
        raise TransferError(f"transfer.runs: {run_name} is a {run.variant} run on {cls.data_kind}, not on images")
    info = read_info(data_root / run.data)
    if info.get("kind", "images") != "images" or len(info.get("shape", ())) != 3:
        raise TransferError(f"transfer.runs: {run_name} trains on {run.data}, which is not an image dataset")
    h, w, c = info["shape"]
    if run.train.image_size:  # trained on the images shrunk to this side: the discriminator takes that side
        check_image_size(run.train.image_size, info.get("kind", "images"), (c, h, w), run.data,
                         f"models.{run_name}.train.image_size")
        h = w = run.train.image_size
    needs_labels = cls.conditional or cls.labelled
    spec = DataSpec((c, h, w), len(info.get("classes") or ()) if needs_labels else 0)
    with torch.random.fork_rng(devices=[]), without_optimizers():  # only its discriminator's features are read
        torch.manual_seed(seed)
        variant = runs.build_variant(run.variant, run.variant_config(), spec, "cpu")
    if ROLE not in variant.nets:
        raise TransferError(f"transfer.runs: {run_name}: variant {run.variant!r} has no {ROLE!r} network "
                            f"(its networks: {', '.join(variant.nets)})")
    conv_layers(variant.nets[ROLE], f"transfer.runs: {run_name} ({run.variant})")
    return variant, run, info


def load_discriminator(models: Mapping[str, RunParams], run_name: str, data_root: str | Path,
                       models_root: str | Path) -> Discriminator:
    """The trained discriminator of run ``run_name``: its variant rebuilt from its section of ``models``
    (params ``models:``) and the weights of MODELS_ROOT/<run>/checkpoint.pt loaded into it."""
    variant, run, info = _build(models, run_name, Path(data_root), seed=0)
    path = runs.RunDir(Path(models_root) / run_name).checkpoint
    if not path.is_file():
        raise TransferError(f"{path}: no checkpoint of run {run_name!r}; train it first (dvc repro train@{run_name})")
    try:
        state = runs.read_checkpoint(path, map_location="cpu")
    except runs.UnreadableCheckpoint as exc:
        raise TransferError(str(exc)) from None
    if state.variant != run.variant:
        raise TransferError(f"{path} holds a {state.variant!r} checkpoint, but models.{run_name}.variant "
                            f"is {run.variant!r}")
    try:
        variant.nets.load_state_dict(state.model["nets"])
    except (KeyError, RuntimeError) as exc:
        raise TransferError(f"{path} does not fit models.{run_name} as params.yaml builds it (changed model "
                            f"settings or data shape?): {str(exc).splitlines()[0]}") from None
    trained_on = {"dataset": run.data, "dataset_variant": info.get("variant", "unknown"), "step": state.step,
                  "checkpoint_fingerprint": state.fingerprint if state.fingerprint is not None else ""}
    return Discriminator(run_name, variant.nets[ROLE], tuple(variant.data.shape), trained_on)


def random_discriminator(models: Mapping[str, RunParams], run_name: str, data_root: str | Path, seed: int
                         ) -> Discriminator:
    """The same architecture as run ``run_name``, freshly initialised with ``seed``, never trained."""
    variant, _, _ = _build(models, run_name, Path(data_root), seed=seed)
    return Discriminator(run_name + RANDOM_SUFFIX, variant.nets[ROLE], tuple(variant.data.shape), {})


# --------------------------------------------------------------------------- the test


def adapt_to(images: torch.Tensor, shape: tuple[int, int, int]) -> tuple[torch.Tensor, str]:
    """uint8 (N, C, H, W) CIFAR-10 images as the discriminator's training images were: its channels
    (BT.601 luma for grey) and side (antialiased bilinear); returns what was done ('' = nothing)."""
    return adapt_images(images, shape[0], shape[1])


def linear_probe(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor,
                 config: TransferConfig, n_classes: int, progress: bool = False) -> dict[str, Any]:
    """Standardise with train's statistics (in place), choose C on held-out train, refit on all of
    train, score on test: the numbers of one row."""
    scaler = Standardizer.fit(train_x)
    scaler.apply_(train_x)
    scaler.apply_(test_x)
    t0 = time.perf_counter()
    search = select_c_and_refit(train_x, train_y, n_classes, tuple(config.c_grid), config.val_fraction,
                                config.seed, tol=config.tol, progress=progress)
    return {"test_accuracy": accuracy(search.fit, test_x, test_y), "c": search.c,
            "val_accuracy": search.val_accuracy[search.c], "train_accuracy": accuracy(search.fit, train_x, train_y),
            "val_accuracy_by_c": {f"{c:g}": a for c, a in search.val_accuracy.items()},
            "svm_converged": search.fit.converged, "svm_seconds": time.perf_counter() - t0}


def run_transfer(models: Mapping[str, RunParams], config: TransferConfig, data_root: str | Path = "data",
                 models_root: str | Path | None = None, progress: bool = False) -> dict[str, Any]:
    """Every row of the transfer table (ours, then the published ones) and the protocol; ``models`` holds
    the runs of ``config.runs`` (params ``models:``)."""
    data_root = Path(data_root)
    models_root = Path(models_root) if models_root is not None else runs.models_root(data_root)
    # every discriminator is built and loaded before any image is read: bad params fail at once
    nets: list[Discriminator] = []
    for name in config.runs:
        nets.append(load_discriminator(models, name, data_root, models_root))
        if config.random_baselines:
            nets.append(random_discriminator(models, name, data_root, config.seed))
    device = pick_device(config.device)
    info = read_info(data_root / DATASET)
    cifar_variant = info.get("variant", "unknown")
    train, class_names = load_images(data_root / DATASET, "train")
    test, _ = load_images(data_root / DATASET, "test")
    train_x, train_y = nchw(train.images), torch.from_numpy(np.asarray(train.labels, dtype=np.int64))
    if config.train_subset and config.train_subset < len(train_x):
        pick = torch.from_numpy(np.sort(np.random.default_rng(config.seed).choice(len(train_x), config.train_subset,
                                                                                  replace=False)))
        train_x, train_y = train_x[pick], train_y[pick]
    test_x, test_y = nchw(test.images), torch.from_numpy(np.asarray(test.labels, dtype=np.int64))
    n_classes = len(class_names)
    log.info("transfer: CIFAR-10 (%s) %d train / %d test images; %d discriminators%s; on %s", cifar_variant,
             len(train_x), len(test_x), len(nets), " + raw pixels" if config.raw_pixels else "", device)

    rows = []
    for d in nets:
        t0 = time.perf_counter()
        d.net.to(device)
        tr, adapted = adapt_to(train_x, d.shape)
        te, _ = adapt_to(test_x, d.shape)
        f_train = conv_features(d.net, tr, config.pool, config.batch_size, progress)
        f_test = conv_features(d.net, te, config.pool, config.batch_size, progress)
        d.net.to("cpu")
        del tr, te
        feat_s = time.perf_counter() - t0
        log.info("transfer: %s: %d-d features of %d images in %.1f s", d.name, f_train.shape[1],
                 len(f_train) + len(f_test), feat_s)
        row = linear_probe(f_train, train_y, f_test, test_y, config, n_classes, progress)
        rows.append(_row(d.name, "random-init D" if not d.trained_on else "trained D", f_train.shape[1], feat_s,
                         row, cifar_variant, adapted, d.trained_on,
                         f"{d.name.removesuffix(RANDOM_SUFFIX)}'s architecture, seed {config.seed}"))
        log.info("transfer: %s: test accuracy %.4f (C %g)", d.name, row["test_accuracy"], row["c"])
        del f_train, f_test
    if config.raw_pixels:
        t0 = time.perf_counter()
        f_train = to_unit_range(train_x.flatten(1))
        f_test = to_unit_range(test_x.flatten(1))
        feat_s = time.perf_counter() - t0
        row = linear_probe(f_train, train_y, f_test, test_y, config, n_classes, progress)
        rows.append(_row(RAW, "raw pixels", f_train.shape[1], feat_s, row, cifar_variant, "", {}, ""))
        log.info("transfer: raw pixels: test accuracy %.4f (C %g)", row["test_accuracy"], row["c"])
    published = [{**p, "published": True} for p in PUBLISHED]
    protocol = {
        "dataset": DATASET, "cifar10_variant": cifar_variant, "n_train": len(train_x), "n_test": len(test_x),
        "config": dataclasses.asdict(config), "threads": torch.get_num_threads(), "device": str(device),
    }
    return {"rows": rows, "published": published, "protocol": protocol}


def _row(name: str, kind: str, dim: int, feat_s: float, probe: dict[str, Any], cifar_variant: str, adapted: str,
         trained_on: dict[str, Any], random_of: str) -> dict[str, Any]:
    return {"name": name, "kind": kind, "published": False, **probe, "feature_dim": dim,
            "features_seconds": feat_s, "seconds": feat_s + probe["svm_seconds"],
            "trained_on": trained_on or ({"random_init": random_of} if random_of else {}),
            "cifar10_variant": cifar_variant, "input": adapted or "as is"}


# --------------------------------------------------------------------------- the stage




def metrics_of(result: dict[str, Any]) -> dict[str, Any]:
    """The DVC metrics: one flat mapping of numbers per row, keyed by the row's name."""
    keys = ("test_accuracy", "val_accuracy", "c", "feature_dim", "features_seconds", "svm_seconds", "seconds")
    out: dict[str, Any] = {"cifar10_variant": result["protocol"]["cifar10_variant"],
                           "n_train": result["protocol"]["n_train"], "n_test": result["protocol"]["n_test"]}
    for row in result["rows"]:
        out[row["name"]] = {k: row[k] for k in keys} | ({"step": row["trained_on"]["step"]}
                                                         if "step" in row["trained_on"] else {})
    out["published"] = {p["name"]: {"test_accuracy": p["test_accuracy"], "published": True}
                        for p in result["published"]}
    return out


def markdown_report(result: dict[str, Any]) -> str:
    """reports/transfer/README.md: our rows, the published ones apart, and the protocol."""
    p = result["protocol"]
    cfg = p["config"]
    lines = ["# DCGAN transfer test on CIFAR-10 (Radford et al. 2016, section 5.1)", "",
             f"CIFAR-10 copy: **{p['cifar10_variant']}**"
             + (" (the official images)" if p["cifar10_variant"] == "official" else
                " (not the official images: numbers are not directly comparable with published ones)")
             + f"; {p['n_train']:,} train / {p['n_test']:,} test images.", "",
             "## Ours (measured by this stage)", "",
             "| features | trained on | test acc. | val acc. | C | dim | features s | SVM s | CIFAR-10 | input |",
             "|---|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in result["rows"]:
        t = r["trained_on"]
        origin = (f"{t['dataset']} ({t['dataset_variant']}), step {t['step']}" if "step" in t
                  else "nothing: " + t["random_init"] if "random_init" in t else "-")
        lines.append(f"| {r['name']} | {origin} | {100 * r['test_accuracy']:.2f}% | {100 * r['val_accuracy']:.2f}% "
                     f"| {r['c']:g} | {r['feature_dim']:,} | {r['features_seconds']:.1f} | {r['svm_seconds']:.1f} "
                     f"| {r['cifar10_variant']} | {r['input']} |")
    lines += ["", "## Published (Radford et al. 2016, Table 1; quoted, not re-run here)", "",
              "| method | test acc. | note |", "|---|---:|---|"]
    lines += [f"| {q['name']} | {100 * q['test_accuracy']:.1f}% | {q['note']} |" for q in result["published"]]
    lines += ["", "## Protocol", "",
              "- Features: the discriminator in eval mode (batch norm uses its running statistics; spectral norm its "
              "stored singular vectors) on CIFAR-10 images scaled to [-1, 1] as in training. The output of every "
              "conv block (convolution, its normalisation, LeakyReLU) except the last convolution, which makes the "
              f"logit, is adaptive-max-pooled to {cfg['pool']}x{cfg['pool']}, flattened and concatenated.",
              "- Images are converted to what the discriminator was trained on when it differs (column *input*): "
              "RGB to grey by BT.601 luma, sides changed by antialiased bilinear resizing, rounded to uint8 first.",
              f"- Random-init rows: the run's variant and model settings, weights drawn with seed {cfg['seed']}, never "
              "trained (what training added). Raw pixels: the 3,072 values in [-1, 1].",
              "- Classifier: one-vs-rest linear SVMs with the squared hinge (L2-SVM) and an L2 penalty on the "
              "weights (bias unpenalised), C as in LIBLINEAR/LinearSVC, solved in the primal by truncated "
              f"Newton (ganlab.eval.svm) to a gradient norm of {cfg['tol']:g} x its value at zero. Features are "
              "standardised with the train split's mean and deviation.",
              f"- C from {', '.join(f'{c:g}' for c in cfg['c_grid'])}: fit on {1 - cfg['val_fraction']:.0%} of "
              f"train, chosen by accuracy on the other {cfg['val_fraction']:.0%} (stratified, seed {cfg['seed']}; "
              "ties to the smaller C), then refit on all of train with that C and scored once on test.",
              f"- {p['threads']} thread(s) on {p['device']}.",
              "- Not the paper's setting: its discriminator was trained on ImageNet-1k (the point was transfer to "
              "another domain) and is far wider (28,672-d features). A discriminator trained on CIFAR-10 itself "
              "tests the features in their own domain."]
    if cfg["train_subset"]:
        lines.append(f"- Quick run: a {cfg['train_subset']:,}-image subset of train (seed {cfg['seed']}).")
    return "\n".join(lines) + "\n"


def write_transfer_stage(models: Mapping[str, RunParams], config: TransferConfig | None, data_root: str | Path,
                         models_root: str | Path | None, out: str | Path, progress: bool = False) -> dict[str, Any]:
    """Stage transfer: run the test of ``config`` (params ``transfer:``; None, when params.yaml has no such
    section, is the paper's defaults) on the runs of ``models`` and write OUT/metrics.json (DVC metrics)
    and OUT/README.md."""
    config = config if config is not None else TransferConfig()
    result = run_transfer(models, config, data_root, models_root, progress)
    out = Path(out)
    write_json_atomic(out / "metrics.json", metrics_of(result))
    write_text_atomic(out / "README.md", markdown_report(result))
    return result
