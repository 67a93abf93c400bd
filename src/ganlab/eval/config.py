"""The evaluation sections of params.yaml: ``metrics:``, ``evaluators.<dataset>`` and ``transfer:``.

They live beside the evaluation code that reads them (ganlab.eval.pipeline, evaluator, transfer) and
ganlab.params only assembles them. Torch-free, unlike the modules that use them, so a params file
is validated without loading torch or the feature networks.
"""

from __future__ import annotations

from dataclasses import dataclass

from ganlab.errors import GanlabError, ParamsError
from ganlab.schema import cut, hp, shown

# --------------------------------------------------------------------------- metrics:

EXTRACTOR_KINDS = ("evaluator", "inception-v3-compat")


@dataclass(frozen=True)
class MetricsParams:
    """Sample-quality metrics of the image runs (``metrics:``): stages reference@<dataset> (real features,
    cached per data version) and metrics@<run> (IS, FID, KID, precision/recall, class accuracy,
    memorisation, Parzen); see ganlab.eval.pipeline."""

    extractor: str = hp("evaluator", "feature network: the dataset's evaluator@<dataset> (offline), or "
                        "inception-v3-compat (the field's standard; its weights must be on this machine)",
                        choices=EXTRACTOR_KINDS)
    inception_weights: str = hp("", "inception-v3-compat weights file; '' = torch-fidelity's download cache")
    reference_split: str = hp("train", "real split the generated images are compared with", choices=("train", "test"))
    n_real: int = hp(10000, "real images drawn (seeded) from the reference split; 0 = all of it", min=0, max=10**8)
    n_fake: int = hp(10000, "generated images per run", min=10, max=10**8)
    seed: int = hp(0, "seed of the generated images and of the real subset", min=0, max=2**31 - 1)
    batch_size: int = hp(500, "images per generator and extractor batch (does not change any number)",
                         min=1, max=65536)
    is_splits: int = hp(10, "Inception Score splits (Salimans et al.: 10)", min=1, max=1000)
    kid_subsets: int = hp(100, "KID subsets (torch-fidelity's default)", min=1, max=100000)
    kid_subset_size: int = hp(1000, "images per KID subset (torch-fidelity's default)", min=2, max=10**8)
    pr_k: int = hp(3, "k of the k-NN manifolds of precision/recall (Kynkaanniemi et al.: 3)", min=1, max=1000)
    memorisation_samples: int = hp(2000, "generated images checked for copies (the first N of n_fake; 0 = all): "
                                   "each hash match costs an aligned correlation, and each nearest-neighbour "
                                   "query (against as many held-out images) a search of the training features", min=0, max=10**8)
    nearest_rows: int = hp(8, "generated samples in the nearest-training-image grid", min=0, max=256)
    nearest_k: int = hp(5, "nearest training images beside each", min=1, max=64)
    parzen: tuple[str, ...] = hp((), "runs whose Parzen-window log-likelihood of the test set is estimated "
                                 "(the GAN paper's MNIST measure; slow, and a poor measure of quality)")
    references: dict[str, str] = hp({}, "reference@<dataset> stages: image dataset -> the evaluator (by its "
                                    "dataset) whose features measure it")
    runs: dict[str, str] = hp({}, "metrics@<run> stages: image run -> its dataset (a references key)")


# --------------------------------------------------------------------------- evaluators.<dataset>

AUGMENTATIONS = ("none", "crop", "crop+flip")
STEMS = ("none", "patch", "whiten")


@dataclass(frozen=True)
class EvaluatorConfig:
    """How an evaluator is trained (one per dataset); see ganlab.eval.evaluator."""

    width: int = hp(32, "channels of the first of three stages; doubled at each stage", min=4, max=512)
    features: int = hp(128, "penultimate width: the dimension of the FID/KID/PR features", min=8, max=4096)
    epochs: int = hp(10, "passes over the train split", min=1, max=1000)
    batch_size: int = hp(128, "images per SGD step", min=2, max=65536)
    lr: float = hp(0.05, "peak SGD step of the one-cycle schedule", min=1e-6, max=10.0)
    momentum: float = hp(0.9, "Nesterov momentum", min=0.0, max=0.999)
    weight_decay: float = hp(5e-4, "L2 on all weights", min=0.0, max=1.0)
    stem: str = hp("none", "before the stages: none, patch (a learnt 2x2 stride-2 convolution, so the stages run at "
                   "half resolution, about 3x cheaper: for 32 px colour images), or whiten (the same 2x2 patches "
                   "projected onto their principal axes of the train images, scaled to unit variance and "
                   "fixed; each axis twice, signed, before the ReLU)", choices=STEMS)
    label_smoothing: float = hp(0.0, "share of each cross-entropy target spread over all classes (0 = one-hot)",
                                min=0.0, max=0.5)
    augment: str = hp("crop", "random shifts of size/8 px (crop), plus mirroring (crop+flip; not for digits)",
                      choices=AUGMENTATIONS)
    shift: int = hp(0, "largest random shift of augment crop, in px (0 = a eighth of the image size)", min=0, max=64)
    seed: int = hp(0, "initial weights, batch order and augmentation", min=0, max=2**31 - 1)
    train_subset: int = hp(0, "train on N images drawn with the seed (0 = all): trials and tests (splits may be "
                           "sorted by class)", min=0, max=10**9)

    def __post_init__(self) -> None:
        if self.augment not in AUGMENTATIONS:
            raise GanlabError(f"evaluator augment = {shown(self.augment)}; choose one of {', '.join(AUGMENTATIONS)}")
        if self.stem not in STEMS:
            raise GanlabError(f"evaluator stem = {shown(self.stem)}; choose one of {', '.join(STEMS)}")
        if not 0.0 <= self.label_smoothing <= 0.5:  # 0.5 already spreads half of each target over wrong classes
            raise GanlabError(f"evaluator label_smoothing = {self.label_smoothing}; it must lie in [0, 0.5]")


# --------------------------------------------------------------------------- transfer:

DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass(frozen=True)
class TransferConfig:
    """DCGAN's CIFAR-10 transfer test (``transfer:`` in params.yaml); see ganlab.eval.transfer."""

    runs: tuple[str, ...] = hp(("dcgan-cifar10",), "runs under models: whose trained discriminators are measured")
    pool: int = hp(4, "each conv layer's output is max-pooled to pool x pool (the paper: 4x4)", min=1, max=32)
    c_grid: tuple[float, ...] = hp((3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3), "SVM C values tried (LinearSVC's C, "
                                   "on standardised features)")
    val_fraction: float = hp(0.2, "share of each train class held out to choose C", min=0.01, max=0.9)
    seed: int = hp(0, "held-out draw, train subset and the random-init baselines' weights", min=0, max=2**31 - 1)
    train_subset: int = hp(0, "use N train images drawn with the seed (0 = all 50,000): quick trials", min=0,
                           max=10**8)
    batch_size: int = hp(500, "images per discriminator forward pass (does not change any number)", min=1,
                         max=65536)
    tol: float = hp(1e-3, "SVM stopping rule: gradient norm below tol x its norm at w = 0 (LIBLINEAR's)",
                    min=1e-12, max=0.5)
    random_baselines: bool = hp(True, "also measure each run's architecture with fresh random weights")
    raw_pixels: bool = hp(True, "also measure the raw pixels")
    device: str = hp("auto", "where the discriminators run: auto = cuda, then mps, then cpu (the SVM runs on the CPU)",
                     choices=DEVICES)

    def __post_init__(self) -> None:
        if not self.c_grid:
            raise ParamsError("c_grid is empty; give at least one C")
        bad = [c for c in self.c_grid if not c > 0]
        if bad:
            raise ParamsError(f"c_grid holds {shown(bad)}: every C must be > 0")
        twice = sorted({r for r in self.runs if self.runs.count(r) > 1})
        if twice:
            raise ParamsError(f"runs names {cut(', '.join(map(shown, twice)))} more than once")
        if not self.runs and not self.raw_pixels:
            raise ParamsError("runs is empty and raw_pixels is false: nothing to measure")
