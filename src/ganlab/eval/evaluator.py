"""The evaluator network: a small CNN classifier per dataset, whose features stand in for Inception-v3.

FID, KID and precision/recall compare images through a network's features; the Inception Score
reads a classifier's class probabilities. The field's standard network (Inception-v3 trained on
ImageNet) cannot be fetched on an offline machine, and on 28x28 digits it measures ImageNet
textures more than digits. So each dataset gets its own classifier, trained here on the
dataset's labelled train split: its penultimate layer gives the features of FID/KID/PR and its
logits the Inception Score, as many papers on MNIST-like data do with a LeNet-style network.

Numbers measured with one evaluator are comparable only with numbers measured with the same
weights; that is why the weights' sha256 is written beside them (``<weights>.json`` here, the
protocol of every metric in :mod:`ganlab.eval.metrics`).

Training is deterministic on CPU for a given seed and thread count: the initial weights, the
batch order and the augmentation are drawn from the seed alone, inside a forked RNG, so the
caller's random state is left as it was.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ganlab.data.datasets import INFO_FILE, load_images, read_info
from ganlab.errors import GanlabError
from ganlab.eval.config import STEMS, EvaluatorConfig
from ganlab.files import atomic_directory, atomic_write, hash_file, write_json_atomic
from ganlab.images import nchw, to_unit_range
from ganlab.schema import unknown_key_message

log = logging.getLogger(__name__)

WEIGHTS_FORMAT = 1  # bump when the layout of the weights file changes
def _conv_bn_relu(c_in: int, c_out: int, kernel: int = 3, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, kernel, stride, padding=kernel // 2 if stride == 1 else 0, bias=False),
            nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class EvaluatorNet(nn.Module):
    """Three stages of two 3x3 convolutions and a 2x2 max-pool, global average pooling, a
    penultimate layer (the features) and a linear classifier (the logits). With ``stem="patch"``
    a 2x2 stride-2 convolution comes first, so the stages see half the resolution; ``stem="whiten"``
    makes that convolution a fixed one, set by :func:`fit_whitening` from the train images.

    Takes images in [-1, 1]; global pooling makes it work at 28 and 32 px alike.
    """

    def __init__(self, channels: int, n_classes: int, size: int, width: int = 32, features: int = 128,
                 stem: str = "none") -> None:
        super().__init__()
        if stem not in STEMS:
            raise GanlabError(f"evaluator stem = {stem!r}; choose one of {', '.join(STEMS)}")
        self.arch = {"channels": channels, "n_classes": n_classes, "size": size, "width": width, "features": features}
        if stem != "none":  # older weights files have no "stem": they load as stem none
            self.arch["stem"] = stem
        layers: list[nn.Module] = []
        c_in = channels
        if stem == "patch":  # (B, c, s, s) -> (B, width, s/2, s/2): each 2x2 patch to one pixel
            layers += _conv_bn_relu(c_in, width, kernel=2, stride=2)
            c_in = width
        elif stem == "whiten":  # (B, c, s, s) -> (B, 8c, s/2, s/2): each 2x2 patch's whitened coordinates, +- each
            whiten = nn.Conv2d(c_in, 2 * 4 * c_in, 2, 2, bias=False)
            whiten.weight.requires_grad_(False)  # set from the data by fit_whitening, then fixed
            layers += [whiten, nn.ReLU(inplace=True)]
            c_in = 2 * 4 * c_in
        for stage in range(3):  # (B, c, s, s) -> (B, width * 2**stage, s/2, s/2)
            c = width * 2**stage
            layers += _conv_bn_relu(c_in, c) + _conv_bn_relu(c, c) + [nn.MaxPool2d(2)]
            c_in = c
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())  # -> (B, 4 * width)
        self.embed = nn.Sequential(nn.Linear(c_in, features), nn.ReLU(inplace=True))  # -> (B, features)
        self.head = nn.Linear(features, n_classes)  # -> (B, n_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, C, H, W) in [-1, 1] -> (penultimate features (B, features), logits (B, n_classes))."""
        h = self.embed(self.body(x))
        return h, self.head(h)


#: the evaluator's weights and inputs are channels-last (a quarter faster on CPU)
LAYOUT = torch.channels_last


@torch.no_grad()
def fit_whitening(net: EvaluatorNet, images: torch.Tensor, eps: float = 1e-2) -> None:
    """Set a ``stem="whiten"`` network's first convolution from uint8 (N, C, H, W) ``images``: the
    2x2 stride-2 patches' covariance has eigenvectors v_i and eigenvalues l_i; output channel i is
    the patch's coordinate v_i / sqrt(l_i + eps * mean(l)), channel i + 4C its negative (so the
    ReLU after it loses nothing). Decorrelated, equal-variance inputs are what lets the first
    stage learn in fewer epochs (Coates & Ng 2012's whitened patches; fast CIFAR-10 recipes use it)."""
    conv = net.body[0]
    if not isinstance(conv, nn.Conv2d) or net.arch.get("stem") != "whiten":
        raise GanlabError("fit_whitening needs an evaluator network built with stem whiten")
    x = to_unit_range(images).float()
    patches = F.unfold(x, kernel_size=2, stride=2).transpose(1, 2).reshape(-1, conv.in_channels * 4).double()
    cov = torch.cov(patches.T)
    values, vectors = torch.linalg.eigh(cov)  # ascending
    values = values.clamp(min=0)
    scale = (values + eps * float(values.mean())).rsqrt()
    w = (vectors * scale).T.flip(0)  # rows: principal axes, largest variance first
    conv.weight.copy_(torch.cat([w, -w]).reshape_as(conv.weight).to(conv.weight.dtype))


def augment(x: torch.Tensor, mode: str, generator: torch.Generator, shift: int = 0) -> torch.Tensor:
    """Random shifts by up to ``shift`` px (0: size/8) with black borders (``crop``), and a left-right mirror
    of half the images (``crop+flip``); uint8 (B, C, H, W) in and out."""
    if mode == "none":
        return x
    b, c, h, w = x.shape
    pad = shift or max(1, h // 8)
    padded = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    rows = (dy[:, None] + torch.arange(h))[:, None, :, None]  # (B, 1, H, 1)
    cols = (dx[:, None] + torch.arange(w))[:, None, None, :]  # (B, 1, 1, W)
    out = padded[torch.arange(b)[:, None, None, None], torch.arange(c)[None, :, None, None], rows, cols]
    if mode == "crop+flip":
        mirror = torch.rand(b, generator=generator) < 0.5
        out = torch.where(mirror[:, None, None, None], out.flip(3), out)
    return out


@dataclass
class Evaluator:
    """A trained evaluator network and its provenance (what ``<weights>.json`` holds)."""

    net: EvaluatorNet
    info: dict[str, Any]

    @property
    def dataset(self) -> str:
        return str(self.info.get("dataset", ""))

    @property
    def class_names(self) -> list[str]:
        return list(self.info.get("classes", []))


@torch.no_grad()
def predict(net: EvaluatorNet, images: torch.Tensor, batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """(features, logits) of uint8 (N, C, H, W) images, in eval mode, on CPU."""
    was_training = net.training
    net.eval()
    device = next(net.parameters()).device
    try:
        outs = [net(to_unit_range(images[i : i + batch_size].to(device), LAYOUT))
                for i in range(0, len(images), batch_size)]
    finally:
        net.train(was_training)
    return torch.cat([o[0] for o in outs]).cpu(), torch.cat([o[1] for o in outs]).cpu()


def accuracy(net: EvaluatorNet, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 500) -> float:
    """Share of uint8 (N, C, H, W) images classified as ``labels``."""
    _, logits = predict(net, images, batch_size)
    return float((logits.argmax(1) == labels).float().mean())


def train_evaluator(images: np.ndarray, labels: np.ndarray, class_names: list[str], config: EvaluatorConfig, *,
                    test: tuple[np.ndarray, np.ndarray] | None = None, dataset: str = "", data_fingerprint: str = "",
                    device: str = "cpu", progress: bool = True) -> Evaluator:
    """Train an evaluator on uint8 (N, H, W, C) ``images`` and their integer ``labels``.

    SGD with Nesterov momentum and a one-cycle learning rate; ``test`` (images, labels), when
    given, is scored once at the end (never used to choose anything). Returns the network in
    eval mode and its provenance.
    """
    if 0 < config.train_subset < len(images):
        pick = np.sort(np.random.default_rng(config.seed).choice(len(images), config.train_subset, replace=False))
        images, labels = images[pick], np.asarray(labels)[pick]
    n_classes = len(class_names)
    x_all = nchw(images)
    y_all = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    if len(y_all) != len(x_all):
        raise GanlabError(f"evaluator {dataset}: {len(x_all)} images but {len(y_all)} labels")
    if n_classes < 2 or len(y_all) == 0 or int(y_all.min()) < 0 or int(y_all.max()) >= n_classes:
        raise GanlabError(f"evaluator {dataset}: labels must lie in 0..{n_classes - 1} ({n_classes} class names)")
    n, bs = len(x_all), config.batch_size
    steps_per_epoch = n // bs
    if steps_per_epoch == 0:
        raise GanlabError(f"evaluator {dataset}: {n} training images are fewer than batch_size = {bs}")
    _, channels, h, w = x_all.shape
    if h != w:
        raise GanlabError(f"evaluator {dataset}: images are {h}x{w}; the evaluator takes square images")
    smallest = 8 if config.stem == "none" else 16  # three 2x2 max-pools (after the stem's halving)
    if h < smallest:
        raise GanlabError(f"evaluator {dataset}: images are {h}x{w}; stem {config.stem} needs {smallest} px or more")
    dev = torch.device(device)
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        net = EvaluatorNet(channels, n_classes, h, config.width, config.features, config.stem)
        if config.stem == "whiten":  # from a fixed draw of up to 5,000 train images (its own generator)
            pick = torch.randperm(n, generator=torch.Generator().manual_seed(config.seed))[:5000]
            fit_whitening(net, x_all[pick])
        net = net.to(dev, memory_format=LAYOUT)
        g = torch.Generator().manual_seed(config.seed)
        opt = torch.optim.SGD([q for q in net.parameters() if q.requires_grad], lr=config.lr, momentum=config.momentum, nesterov=True,
                              weight_decay=config.weight_decay)
        schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr,
                                                       total_steps=config.epochs * steps_per_epoch)
        bar = tqdm(total=config.epochs * steps_per_epoch, desc=f"evaluator {dataset}".strip(), unit="step",
                   disable=not progress)
        net.train()
        for epoch in range(config.epochs):
            order = torch.randperm(n, generator=g)
            loss_sum, correct, epoch_start = 0.0, 0, time.perf_counter()
            for k in range(steps_per_epoch):
                idx = order[k * bs : (k + 1) * bs]
                x = to_unit_range(augment(x_all[idx], config.augment, g, config.shift), LAYOUT).to(dev)
                y = y_all[idx].to(dev)
                _, logits = net(x)
                loss = F.cross_entropy(logits, y, label_smoothing=config.label_smoothing)
                if not math.isfinite(loss.item()):
                    raise GanlabError(f"evaluator {dataset}: loss {loss.item()} at epoch {epoch}, step {k}; "
                                      f"lower evaluator lr ({config.lr})")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                schedule.step()
                loss_sum += loss.item()
                correct += int((logits.argmax(1) == y).sum())
                bar.update(1)
            bar.set_postfix(loss=f"{loss_sum / steps_per_epoch:.3f}", acc=f"{correct / (steps_per_epoch * bs):.3f}")
            log.info("evaluator %s: epoch %d/%d, loss %.4f, train accuracy %.4f (augmented), %.1f s", dataset,
                     epoch + 1, config.epochs, loss_sum / steps_per_epoch, correct / (steps_per_epoch * bs),
                     time.perf_counter() - epoch_start)
        bar.close()
        recalibrate_batch_norm(net, x_all[torch.randperm(n, generator=g)[: 100 * bs]], bs)  # splits may be sorted
    net.eval()
    seconds = time.perf_counter() - start
    info: dict[str, Any] = {
        "dataset": dataset,
        "data_fingerprint": data_fingerprint,
        "classes": list(class_names),
        "image_shape": [channels, h, w],
        "seed": config.seed,
        "epochs": config.epochs,
        "config": asdict(config),
        "n_train": n,
        "train_seconds": round(seconds, 1),
        "threads": torch.get_num_threads(),
        "device": str(dev),
        "torch": torch.__version__,
    }
    if test is not None:
        x_test = nchw(test[0])
        y_test = torch.as_tensor(np.asarray(test[1]), dtype=torch.int64)
        info["n_test"] = len(x_test)
        info["test_accuracy"] = round(accuracy(net, x_test, y_test), 5)
        log.info("evaluator %s: test accuracy %.4f on %d images after %.0f s", dataset, info["test_accuracy"],
                 len(x_test), seconds)
    return Evaluator(net, info)


@torch.no_grad()
def recalibrate_batch_norm(net: nn.Module, images: torch.Tensor, batch_size: int) -> None:
    """Re-estimate the batch-norm statistics as a plain average over batches of un-augmented ``images``.

    The running averages trail the weights (momentum 0.1) and saw augmented images; a short
    run's then misclassify at test time what its training batches got right."""
    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    device = next(net.parameters()).device
    net.train()
    for k in range(math.ceil(len(images) / batch_size)):
        net(to_unit_range(images[k * batch_size : (k + 1) * batch_size].to(device), LAYOUT))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    net.eval()


def data_fingerprint(root: str | Path) -> str:
    """An id of a dataset's exact files: dataset.json lists the sha256 of every source file
    (the same id the trainer stamps on its checkpoints)."""
    return hashlib.sha256((Path(root) / INFO_FILE).read_bytes()).hexdigest()[:16]


def train_evaluator_on(root: str | Path, config: EvaluatorConfig, *, device: str = "cpu",
                       progress: bool = True) -> Evaluator:
    """Train an evaluator on the train split of the image dataset in ``root``, scored on its test split."""
    root = Path(root)
    name = str(read_info(root).get("name", root.name))
    train, class_names = load_images(root, "train")
    test, _ = load_images(root, "test")
    if train.labels is None or len(class_names) < 2:
        raise GanlabError(f"{root}: the evaluator needs a labelled dataset with 2 or more classes")
    return train_evaluator(train.images, train.labels, class_names, config, test=(test.images, test.labels),
                           dataset=name, data_fingerprint=data_fingerprint(root), device=device, progress=progress)


# --------------------------------------------------------------------------- files


def provenance_path(weights: str | Path) -> Path:
    """``evaluator.pt`` -> ``evaluator.json``: the provenance written beside the weights."""
    return Path(weights).with_suffix(".json")


def save_evaluator(evaluator: Evaluator, path: str | Path) -> Path:
    """Write the weights (atomically) and ``<path>.json`` with the provenance and the weights' sha256."""
    path = Path(path)
    net = evaluator.net
    state = {
        "format": WEIGHTS_FORMAT,
        "arch": dict(net.arch),
        "dataset": evaluator.dataset,
        "classes": evaluator.class_names,
        "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()},
    }
    buf = io.BytesIO()
    torch.save(state, buf)
    data = buf.getvalue()
    with atomic_write(path) as fh:
        fh.write(data)
    evaluator.info["weights_sha256"] = hashlib.sha256(data).hexdigest()
    evaluator.info["architecture"] = dict(net.arch)
    write_json_atomic(provenance_path(path), evaluator.info)
    return path


def load_evaluator(path: str | Path, device: str = "cpu") -> Evaluator:
    """An evaluator from its weights file (``torch.load(weights_only=True)``), in eval mode with
    frozen weights. The provenance JSON beside it is read when present, and must name these weights."""
    path = Path(path)
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise GanlabError(f"{path}: no such evaluator weights file") from None
    except Exception as exc:  # noqa: BLE001 - any unreadable file is reported the same way
        raise GanlabError(f"{path}: not a readable evaluator weights file ({exc})") from None
    if not isinstance(state, dict) or state.get("format") != WEIGHTS_FORMAT or "arch" not in state:
        raise GanlabError(f"{path}: not an evaluator weights file of format {WEIGHTS_FORMAT}")
    net = EvaluatorNet(**state["arch"]).to(device, memory_format=LAYOUT)
    try:
        net.load_state_dict(state["state_dict"])
    except RuntimeError as exc:
        raise GanlabError(f"{path}: weights do not fit the architecture {state['arch']} ({exc})") from None
    net.requires_grad_(False)
    net.eval()
    sha = hash_file(path)
    info: dict[str, Any] = {"dataset": state.get("dataset", ""), "classes": list(state.get("classes", []))}
    side = provenance_path(path)
    if side.exists():
        try:
            info = json.loads(side.read_text())
        except json.JSONDecodeError as exc:
            raise GanlabError(f"{side}: not valid JSON ({exc})") from None
        if info.get("weights_sha256") != sha:
            raise GanlabError(f"{side} describes weights with sha256 {info.get('weights_sha256')}, but {path} "
                              f"has sha256 {sha}; retrain, or delete the stale {side.name}")
    info["weights_sha256"] = sha
    info["architecture"] = dict(state["arch"])
    return Evaluator(net, info)


# --------------------------------------------------------------------------- the pipeline stage

WEIGHTS_FILE = "evaluator.pt"


def write_evaluator_stage(evaluators: Mapping[str, EvaluatorConfig], dataset: str, data_root: str | Path,
                          out: str | Path, report: str | Path) -> dict[str, Any]:
    """Stage evaluator@<dataset>: train ``evaluators[dataset]`` (params ``evaluators:``) on DATA_ROOT/<dataset>,
    write OUT/evaluator.pt with its provenance (OUT/evaluator.json) and REPORT (test accuracy, seconds,
    weights sha256: the DVC metrics). Everything is written to a temporary folder first."""
    if dataset not in evaluators:
        raise GanlabError(unknown_key_message(f"evaluators.{dataset}", dataset, sorted(evaluators)))
    evaluator = train_evaluator_on(Path(data_root) / dataset, evaluators[dataset], progress=False)
    with atomic_directory(Path(out), WEIGHTS_FILE) as tmp:
        save_evaluator(evaluator, tmp / WEIGHTS_FILE)
    info = evaluator.info
    metrics = {k: info[k] for k in ("dataset", "test_accuracy", "n_train", "n_test", "epochs", "train_seconds",
                                    "threads", "weights_sha256") if k in info}
    write_json_atomic(report, metrics)
    return metrics
