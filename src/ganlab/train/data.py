"""A run's training data, read by the kind its ``dataset.json`` records: one entry per kind in
:data:`LOADERS`, saying how its splits become tensors for the trainer, what score follows a run on it
while it trains, and what is drawn after a finished run.

The kinds are those of :data:`ganlab.data.kinds.KINDS` that a model trains on; a dataset of another
kind (lfw's photos) or of an unknown one is refused with the file and the kind named.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganlab.data import oracle as oracle_data
from ganlab.data import text as text_data
from ganlab.data import toy, toy2d
from ganlab.data.datasets import INFO_FILE, load_images, load_text, read_info
from ganlab.data.kinds import DERIVED
from ganlab.errors import DataFormatError, ParamsError
from ganlab.eval import modes
from ganlab.eval.sequences import NllOracle, TextQuality
from ganlab.models.base import DataSpec
from ganlab.images import resize_images, save_figure, to_tensor, to_uint8, to_unit_range
from ganlab.runs import RunDir
from ganlab.train.config import check_image_size
from ganlab.train.trainer import Monitor

MAX_CLASSES = 1000  # a conditional model's one-hot input grows with this; face identities are not classes

#: (training tensor, labels or None, what the variant needs to know of the data)
Split = tuple[torch.Tensor, torch.Tensor | None, DataSpec]


def no_monitor(root: Path, spec: DataSpec, seed: int) -> None:
    """Image runs are scored after training, by the metrics stages, not while they train."""
    return None


@dataclass(frozen=True)
class KindLoader:
    """How the trainer reads one kind of dataset."""

    #: (dataset folder, split, whether the variant needs class labels) -> the split as tensors
    load: Callable[[Path, str, bool], Split]
    #: (dataset folder, its DataSpec, the run's seed) -> the score a run is followed by while it trains
    monitor: Callable[[Path, DataSpec, int], Monitor | None] = no_monitor
    #: (the trained variant, the training tensor, the dataset folder, the run's folder) -> a figure drawn after
    #: a finished run
    after_training: Callable[[Any, torch.Tensor, Path, Path], Path] | None = None


def load_image_split(root: Path, split: str, conditional: bool) -> Split:
    """Images in [-1, 1] as (N, C, H, W), their labels, and the classes when ``conditional``."""
    images_split, class_names = load_images(root, split)
    images = to_tensor(images_split.images)
    labels = None
    if images_split.labels is not None:
        labels = torch.from_numpy(np.asarray(images_split.labels, dtype=np.int64))
    n_classes = len(class_names) if labels is not None else 0
    if conditional and not 2 <= n_classes <= MAX_CLASSES:
        raise ParamsError(f"models.*.data = {root.name!r}: a conditional variant needs 2..{MAX_CLASSES} classes, "
                          f"the dataset has {n_classes}")
    return images, labels, DataSpec(tuple(images.shape[1:]), n_classes if conditional else 0)


def at_image_size(images: torch.Tensor, spec: DataSpec, size: int, kind: Any, dataset: str, where: str
                  ) -> tuple[torch.Tensor, DataSpec]:
    """A split's images (floats in [-1, 1] as (N, C, H, W)) shrunk to ``size`` x ``size`` px, with the
    DataSpec of that shape: through uint8 and :func:`ganlab.images.resize_images`, exactly as the metrics
    adapt real images to an evaluator's size, so a run learns the images its samples are measured against.
    (The floats came from uint8 by :func:`ganlab.images.to_tensor`: the way back is exact.)"""
    check_image_size(size, kind, spec.shape, dataset, where)
    if spec.shape[1] == size:
        return images, spec
    small = to_unit_range(resize_images(to_uint8(images), size), torch.contiguous_format)
    return small, dataclasses.replace(spec, shape=(spec.shape[0], size, size))


def load_text_corpus(root: Path, split: str, conditional: bool) -> Split:
    """The training sentences as (N, longest + 1) token ids, with the vocabulary built from them (the
    vocabulary is the training split's, so the training split is what every run reads)."""
    tokens, vocab = text_data.encode_corpus(load_text(root, "train"))
    spec = DataSpec((tokens.shape[1],), 0, vocab=len(vocab.words), words=vocab.words, end_token=vocab.end)
    return torch.from_numpy(tokens), None, spec


def text_monitor(root: Path, spec: DataSpec, seed: int) -> Monitor:
    """BLEU and Self-BLEU of generated sentences against the test sentences."""
    return TextQuality(load_text(root, "test"), seed=seed)


def load_oracle_tokens(root: Path, split: str, conditional: bool) -> Split:
    """The oracle's training sequences, (N, length) token ids (the oracle has no other split)."""
    tokens, _, info = oracle_data.load_oracle(root)
    return tokens, None, DataSpec((info["length"],), 0, vocab=info["vocab"])


def oracle_monitor(root: Path, spec: DataSpec, seed: int) -> Monitor:
    """NLL-oracle and NLL-gen: the oracle LSTM scores the generator's samples, and the generator the oracle's."""
    _, oracle, info = oracle_data.load_oracle(root)
    return NllOracle(oracle, info, seed=seed)


def load_toy_samples(root: Path, split: str, conditional: bool) -> Split:
    """The 1-D samples as (N, 1, 1, 1) images (the toy has one split)."""
    x, _ = toy.load_toy(root)
    return torch.from_numpy(x).view(-1, 1, 1, 1), None, DataSpec((1, 1, 1), 0)


@torch.no_grad()
def plot_toy(variant: Any, data: torch.Tensor, root: Path, out: Path) -> Path:
    """Histogram of the data against the generator's samples, and D(x) across the range (the
    GAN paper's Figure 1), as OUT/samples/histogram.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = RunDir(out).samples / "histogram.png"
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
    affine = isinstance(g, torch.nn.Linear)  # arch affine: say which line G is; an MLP G has no such summary
    ax.hist(fake, bins, density=True, alpha=0.5,
            label=f"G(z) = {g.weight.item():.2f} z + {g.bias.item():.2f}" if affine else "G(z)")
    ax2 = ax.twinx()
    ax2.plot(grid.flatten().cpu().numpy(), d, "k--", label="D(x)")
    ax2.set_ylim(0, 1)
    ax.set_xlabel("x")
    ax.legend(loc="upper left", fontsize=8)
    ax2.legend(loc="upper right", fontsize=8)
    save_figure(fig, path)
    plt.close(fig)
    return path


def load_toy2d_points(root: Path, split: str, conditional: bool) -> Split:
    """The 2-D points as (N, 2, 1, 1) images, as they are (not rescaled: the ring's radius is 2, the grid
    reaches 4); the toy has one split."""
    x, _, _ = toy2d.load_toy2d(root)
    return torch.from_numpy(x).view(-1, 2, 1, 1), None, DataSpec((2, 1, 1), 0)


class ModeCoverage:
    """Modes covered, share of high-quality samples and reverse KL (ganlab.eval.modes) of ``n`` generated
    points, drawn from fixed noise, against the dataset's mode centres and std, with the protocol its
    dataset.json records (toy2d.protocol: VEEGAN's and PacGAN's 2,500 samples and 3 std)."""

    def __init__(self, centres: np.ndarray, std: float, protocol: dict[str, Any], seed: int = 0) -> None:
        self.centres, self.std, self.seed = centres, std, seed
        self.n, self.quality_stds = int(protocol["samples"]), float(protocol["quality_stds"])
        self.min_samples = int(protocol["min_samples"])

    @torch.no_grad()
    def __call__(self, variant: Any) -> dict[str, float]:
        x = variant.sample(variant.noise(self.n, torch.Generator().manual_seed(self.seed))).float()
        m = modes.mode_measures(x.flatten(1).cpu().numpy(), self.centres, self.std, self.quality_stds, self.min_samples)
        scores = {"modes": float(m["modes"]), "high_quality": m["high_quality"], "reverse_kl": m["reverse_kl"]}
        return {k: v for k, v in scores.items() if math.isfinite(v)}  # reverse KL: none while no sample is good

    def protocol(self) -> dict[str, Any]:
        return {"n_generated": self.n, "noise_seed": self.seed, "quality_stds": self.quality_stds, "std": self.std,
                "min_samples": self.min_samples, "n_modes": len(self.centres),
                "measures": "modes covered (VEEGAN), share of high-quality samples, reverse KL of their histogram "
                            "over the modes against uniform (PacGAN); ganlab.eval.modes"}


def toy2d_monitor(root: Path, spec: DataSpec, seed: int) -> ModeCoverage:
    """Modes covered, high-quality share and reverse KL, as the dataset's protocol says."""
    _, centres, info = toy2d.load_toy2d(root)
    protocol = info.get("protocol")
    if not isinstance(protocol, dict) or not {"samples", "quality_stds", "min_samples"} <= set(protocol):
        raise DataFormatError(f"{root / INFO_FILE}: protocol = {protocol!r:.80} lacks samples, quality_stds, "
                              "min_samples; run `dvc repro toy`")
    return ModeCoverage(centres, float(info["std"]), protocol, seed=seed)


MODES_PANELS = 5  # panels of samples/modes.png: the first sampled step, the last, and evenly between


def plot_modes(variant: Any, data: torch.Tensor, root: Path, out: Path) -> Path:
    """The generator's fixed-noise points at a few of the steps the trainer sampled (OUT/samples/step_N.npy)
    over the mode centres, each ringed at the high-quality radius (3 std), with the modes covered
    of each panel's points: samples/modes.png, the ring and grid figures of Unrolled GAN, VEEGAN and PacGAN."""
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure registry to manage
    from matplotlib.patches import Circle

    _, centres, info = toy2d.load_toy2d(root)
    std, protocol = float(info["std"]), info.get("protocol", {})
    k = float(protocol.get("quality_stds", modes.QUALITY_STDS))
    samples = RunDir(out).samples
    steps = sorted(samples.glob("step_*.npy"))
    if not steps:
        raise DataFormatError(f"{samples}: no step_N.npy points to draw; the run saved no samples")
    picks = [steps[i] for i in sorted({round(j * (len(steps) - 1) / max(MODES_PANELS - 1, 1))
                                       for j in range(MODES_PANELS)})]
    real = data.flatten(1).numpy()
    span = np.abs(centres).max() + max(1.0, 0.25 * np.abs(centres).max())
    fig = Figure(figsize=(2.8 * len(picks), 3.0))
    for i, path in enumerate(picks):
        points = np.load(path, allow_pickle=False)
        m = modes.mode_measures(points, centres, std, k, int(protocol.get("min_samples", modes.MIN_SAMPLES)))
        ax = fig.add_subplot(1, len(picks), i + 1)
        ax.scatter(real[:2000, 0], real[:2000, 1], s=2, c="0.8", lw=0)
        for c in centres:
            ax.add_patch(Circle(c, k * std, fill=False, color="tab:green", lw=0.8))
        ax.scatter(points[:, 0], points[:, 1], s=4, c="tab:blue", lw=0)
        ax.set_xlim(-span, span)
        ax.set_ylim(-span, span)
        ax.set_aspect("equal")
        ax.set_title(f"step {int(path.stem.split('_')[1])}: {m['modes']}/{m['n_modes']} modes", fontsize=9)
        ax.tick_params(labelsize=7)
    fig.suptitle(f"{info.get('name', root.name)}: generator's points (blue), data (grey), {k:g}-std circles "
                 f"(n = {len(points)} a panel)", fontsize=9)
    return save_figure(fig, samples / "modes.png")


#: dataset.json's kind -> how a run on it is read, followed and finished
LOADERS: dict[str, KindLoader] = {
    "images": KindLoader(load_image_split),
    "text": KindLoader(load_text_corpus, text_monitor),
    "sequences": KindLoader(load_oracle_tokens, oracle_monitor),
    "toy": KindLoader(load_toy_samples, after_training=plot_toy),
    "toy2d": KindLoader(load_toy2d_points, toy2d_monitor, after_training=plot_modes),
}


def loader_of(root: Path) -> KindLoader:
    """The entry of the kind that ``root``'s dataset.json records."""
    if root.name in DERIVED and not (root / INFO_FILE).is_file():  # not fetched: say which stage builds it
        raise DataFormatError(f"{root / INFO_FILE}: missing; `dvc repro {DERIVED[root.name].stage}` builds {root.name}")
    kind = read_info(root).get("kind")
    if kind not in LOADERS:
        raise DataFormatError(f"{root / INFO_FILE}: kind {kind!r} is not one a model trains on; "
                              f"kinds: {', '.join(sorted(LOADERS))}")
    return LOADERS[kind]


def dataset_id(root: Path) -> str:
    """An id of the dataset's exact files: a hash of its dataset.json, which describes them."""
    return hashlib.sha256((root / INFO_FILE).read_bytes()).hexdigest()[:16]
