"""Sample-quality metrics as pure functions over features, each result stamped with its protocol.

Two steps, so that the expensive one is done once per image set and can be cached:

1. :func:`extract_features` runs the chosen extractor (ganlab.eval.extractors) over a set of
   images and returns :class:`Features`: arrays (N, D) per feature layer, plus where they came
   from. :func:`reference_features` does it for a dataset split and caches the result per data
   version and extractor weights (:func:`save_features` / :func:`load_features`).
2. :func:`inception_score`, :func:`fid`, :func:`kid` and :func:`precision_recall` take those
   arrays; :func:`compute_metrics` runs them all on two Features and writes the protocol: the
   extractor and its weights' sha256, input size and resize, dataset, reference split, n_real,
   n_fake and every metric's settings. Without it the numbers are not comparable with anyone's.

:data:`METRICS` is the one place a metric is added: how it is computed, the settings it writes
into the protocol, and its headline numbers, which the metrics table (ganlab.report.metrics) and
the report page (ganlab.report.page) read from it.

The arithmetic is torch-fidelity's definitions, step for step: the same estimators, seeds, random
draws, dtypes and order of operations, so these numbers equal what ``torch_fidelity.calculate_metrics``
gives on the same images with the same extractor (tests/eval/test_metrics.py checks each function
against torch-fidelity's, bit for bit, and the whole against calculate_metrics). They are written out
here so that a metrics stage does not import torch-fidelity, which imports torchvision and, through
it, torch._dynamo: 1.9 s of start-up in each of the 25 metrics stages (benchmarks/stage_startup.py).
"""

from __future__ import annotations

import importlib.metadata
import io
import json
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ganlab.data.datasets import load_images, read_info
from ganlab.errors import DataFormatError, GanlabError
from ganlab.eval.evaluator import data_fingerprint
from ganlab.eval.extractors import Extractor
from ganlab.files import atomic_write
from ganlab.images import nchw, to_uint8

log = logging.getLogger(__name__)

SEED = 2020  # torch-fidelity's default rng_seed: IS split shuffling and KID subsets
KID_KERNEL = "polynomial k(x, y) = (x.y / d + 1)^3"  # torch-fidelity's defaults, as in Binkowski et al. (2018)


@dataclass
class Features:
    """Features of one image set under one extractor: layer name -> float32 (N, D), and their provenance."""

    arrays: dict[str, np.ndarray]
    protocol: dict[str, Any]

    def __len__(self) -> int:
        return len(next(iter(self.arrays.values())))

    def for_metric(self, metric: str) -> np.ndarray:
        """The array a metric (isc, fid, kid, prc) reads, by the extractor's choice of layer."""
        return self.arrays[self.protocol["feature_layers"][metric]]


# --------------------------------------------------------------------------- extraction


def as_uint8_images(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Images as uint8 (N, C, H, W) on the CPU.

    Accepts a dataset's uint8 numpy array (N, H, W, C), a uint8 tensor (N, C, H, W), or a float
    tensor (N, C, H, W) in [-1, 1] as generators give, quantised as a PNG of it would be.
    """
    if isinstance(images, np.ndarray):
        return nchw(images)
    if not torch.is_tensor(images) or images.dim() != 4:
        raise GanlabError(f"expected a 4-D image array or tensor; got {type(images).__name__} "
                          f"{tuple(getattr(images, 'shape', ()))}")
    images = images.detach().cpu()
    if images.dtype == torch.uint8:
        return images.contiguous()
    if not images.is_floating_point():
        raise GanlabError(f"image tensors must be uint8 or float in [-1, 1]; got {images.dtype}")
    return to_uint8(images)  # rounded half up, as torchvision's save_image does


class UInt8Images(torch.utils.data.Dataset):
    """uint8 (N, C, H, W) images as the dataset ``torch_fidelity.calculate_metrics`` reads, to
    check ganlab's numbers against its all-in-one call on the same images."""

    def __init__(self, images: torch.Tensor) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]


@torch.no_grad()
def extract_features(images: np.ndarray | torch.Tensor, extractor: Extractor, *, batch_size: int = 64,
                     device: str = "cpu", progress: bool = False, source: dict[str, Any] | None = None) -> Features:
    """Run ``extractor`` over ``images`` (see :func:`as_uint8_images`) in batches; ``source``
    (dataset, split ...) is kept in the protocol. Batch size does not change the features beyond
    float rounding (the networks run in eval mode)."""
    x = extractor.prepare(as_uint8_images(images))
    if len(x) == 0:
        raise GanlabError("no images to extract features from")
    module = extractor.create(device)
    names = extractor.feature_names()  # the order of the module's outputs
    parts: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    for start in tqdm(range(0, len(x), batch_size), desc=f"features ({extractor.name})", unit="batch",
                      disable=not progress):
        for name, value in zip(names, module(x[start : start + batch_size].to(device)), strict=True):
            parts[name].append(value.float().cpu())
    arrays = {name: torch.cat(v).numpy() for name, v in parts.items()}
    protocol = {**extractor.protocol(), **(source or {}), "n": len(x), "image_size": list(x.shape[2:])}
    return Features(arrays, protocol)


def save_features(features: Features, path: str | Path) -> Path:
    """One .npz (atomically): an array per layer and the protocol as JSON."""
    path = Path(path)
    buf = io.BytesIO()
    np.savez(buf, protocol=np.asarray(json.dumps(features.protocol)),
             **{f"layer_{name}": a for name, a in features.arrays.items()})
    with atomic_write(path) as fh:
        fh.write(buf.getvalue())
    return path


def load_features(path: str | Path) -> Features:
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            protocol = json.loads(str(z["protocol"]))
            arrays = {k.removeprefix("layer_"): z[k] for k in z.files if k.startswith("layer_")}
    except (OSError, KeyError, ValueError) as exc:
        raise DataFormatError(f"{path}: not a features file written by save_features ({exc})") from None
    return Features(arrays, protocol)


def reference_features(root: str | Path, split: str, extractor: Extractor, *, n: int = 0, seed: int = 0,
                       cache_dir: str | Path | None = None, batch_size: int = 64, device: str = "cpu",
                       progress: bool = True) -> Features:
    """Features of a dataset split (all of it, or ``n`` images drawn without replacement with
    ``seed``), read from ``cache_dir`` when this data version, subset and extractor weights were
    extracted before, else extracted and written there."""
    root = Path(root)
    dataset = str(read_info(root).get("name", root.name))
    fingerprint = data_fingerprint(root)
    images = load_images(root, split)[0].images
    subset: dict[str, int] | None = None
    if n and n < len(images):
        pick = np.sort(np.random.default_rng(seed).choice(len(images), n, replace=False))
        images, subset = images[pick], {"n": n, "seed": seed}
    source = {"dataset": dataset, "split": split, "data_fingerprint": fingerprint, "subset": subset}
    cached = None
    if cache_dir is not None:
        tag = "all" if subset is None else f"n{n}-seed{seed}"
        weights = f"{extractor.name}-{extractor.weights_sha256[:16]}"
        cached = Path(cache_dir) / f"{dataset}-{split}-{fingerprint}-{tag}-{weights}.npz"
        if cached.exists():
            features = load_features(cached)
            want = {**extractor.protocol(), **source}
            if all(features.protocol.get(k) == v for k, v in want.items()):
                log.info("reference features of %s/%s from %s", dataset, split, cached)
                return features
            log.warning("%s was written under another protocol; extracting again", cached)
    features = extract_features(images, extractor, batch_size=batch_size, device=device, progress=progress,
                                source=source)
    if cached is not None:
        save_features(features, cached)
    return features


# --------------------------------------------------------------------------- metrics over arrays


def _tensor(a: np.ndarray) -> torch.Tensor:
    a = np.asarray(a)
    if a.ndim != 2:
        raise GanlabError(f"features must be 2-D (N, D); got shape {a.shape}")
    return torch.from_numpy(np.ascontiguousarray(a))


def inception_score(logits: np.ndarray, splits: int = 10, seed: int = SEED) -> dict[str, float]:
    """Salimans et al. (2016): exp E_x KL(p(y|x) || p(y)), over ``splits`` shuffled parts; mean and std."""
    if len(logits) < splits:
        raise GanlabError(f"the Inception Score needs at least {splits} images (one per split); got {len(logits)}")
    x = _tensor(logits)
    n = len(x)
    x = x[np.random.RandomState(seed).permutation(n), :].double()  # the parts are a random partition
    p, log_p = x.softmax(dim=1), x.log_softmax(dim=1)
    scores = []
    for i in range(splits):
        part = slice(i * n // splits, (i + 1) * n // splits)
        p_y = p[part].mean(dim=0, keepdim=True)  # the part's marginal class distribution
        kl = p[part] * (log_p[part] - p_y.log())
        scores.append(kl.sum(dim=1).mean().exp().item())
    return {"is_mean": float(np.mean(scores)), "is_std": float(np.std(scores))}


def fid_statistics(features: np.ndarray) -> dict[str, np.ndarray]:
    """Mean (D,) and covariance (D, D) of features (N, D): all FID needs of a set."""
    x = _tensor(features).numpy()
    return {"mu": np.mean(x, axis=0), "sigma": np.cov(x, rowvar=False)}


def frechet_distance(stats_a: dict[str, np.ndarray], stats_b: dict[str, np.ndarray]) -> float:
    """|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)): the Frechet distance of two Gaussians.
    Tr((S_a S_b)^(1/2)) is the sum of the square roots of S_a S_b's eigenvalues (real and >= 0 in
    exact arithmetic; their real parts, in floating point)."""
    mu_a, sigma_a, mu_b, sigma_b = stats_a["mu"], stats_a["sigma"], stats_b["mu"], stats_b["sigma"]
    if mu_a.ndim != 1 or mu_a.shape != mu_b.shape or sigma_a.ndim != 2 or sigma_a.shape != sigma_b.shape:
        raise GanlabError(f"FID statistics of different shapes: mean {mu_a.shape} vs {mu_b.shape}, "
                          f"covariance {sigma_a.shape} vs {sigma_b.shape}")
    diff = mu_a - mu_b
    eigenvalues = np.linalg.eigvals(sigma_a.dot(sigma_b)).astype("complex128")
    tr_sqrt = np.sum(np.sqrt(eigenvalues).real)
    return float(diff.dot(diff) + np.trace(sigma_a) + np.trace(sigma_b) - 2 * tr_sqrt)


def fid(real: np.ndarray, fake: np.ndarray) -> float:
    """Heusel et al. (2017): the Frechet distance of Gaussians fitted to two feature sets."""
    return frechet_distance(fid_statistics(real), fid_statistics(fake))


def _cubic_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """k(x, y) = (x.y / d + 1)^3 for each pair of rows (:data:`KID_KERNEL`)."""
    return (np.matmul(x, y.T) * (1.0 / x.shape[1]) + 1) ** 3


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """The unbiased estimate of MMD^2 between the rows of x and of y (m each) under the cubic kernel:
    within-set kernel sums without their diagonals over m(m-1), minus twice the cross sum over m^2."""
    k_xx, k_xy, k_yy = _cubic_kernel(x, x), _cubic_kernel(x, y), _cubic_kernel(y, y)
    m = k_xx.shape[0]
    within_x = (k_xx.sum(axis=1) - np.diagonal(k_xx)).sum()
    within_y = (k_yy.sum(axis=1) - np.diagonal(k_yy)).sum()
    cross = k_xy.sum(axis=0).sum()
    mmd2 = (within_x + within_y) / (m * (m - 1))
    mmd2 -= 2 * cross / (m * m)
    return mmd2


def kid(real: np.ndarray, fake: np.ndarray, subsets: int = 100, subset_size: int = 1000,
        seed: int = SEED) -> dict[str, float]:
    """Binkowski et al. (2018): unbiased MMD^2 with a cubic polynomial kernel, averaged over
    ``subsets`` random subsets of ``subset_size`` (capped at the smaller set); mean and std."""
    size = min(subset_size, len(real), len(fake))
    if size < 2:
        raise GanlabError(f"KID needs at least 2 images in each set; got {len(real)} real, {len(fake)} generated")
    fake_x, real_x = _tensor(fake).numpy(), _tensor(real).numpy()
    if fake_x.shape[1] != real_x.shape[1]:
        raise GanlabError(f"KID of features of different widths: {fake_x.shape[1]} vs {real_x.shape[1]}")
    rng = np.random.RandomState(seed)
    mmds = np.zeros(subsets)
    for i in range(subsets):  # each subset: generated rows drawn first, then real ones
        a = fake_x[rng.choice(len(fake_x), size, replace=False)]
        b = real_x[rng.choice(len(real_x), size, replace=False)]
        mmds[i] = _mmd2_unbiased(a, b)
    return {"kid_mean": float(np.mean(mmds)), "kid_std": float(np.std(mmds))}


PR_BLOCK = 10000  # rows of distances computed at once
PR_FULL = 25_000_000  # up to this many real x generated pairs, one distance matrix serves both directions


def _distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Euclidean distances (len(a), len(b)), ``b`` taken PR_BLOCK rows at a time."""
    return torch.cat([torch.cdist(a, part) for part in b.split(PR_BLOCK)], dim=1)


def _kth_neighbour(x: torch.Tensor, k: int) -> torch.Tensor:
    """Each row's distance to its k-th nearest other row (the (k+1)-th smallest: itself is the first)."""
    return torch.cat([_distances(part, x).kthvalue(k + 1).values for part in x.split(PR_BLOCK)])


def _covered(x: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
    """Share of ``x``'s rows within ``radii`` of some centre (the k-NN manifold of ``centres``)."""
    inside = [(_distances(part, centres) <= radii).any(dim=1).float() for part in x.split(PR_BLOCK)]
    return torch.cat(inside).mean()


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> dict[str, float]:
    """Kynkaanniemi et al. (2019): precision = share of generated samples inside the real
    manifold (union of balls reaching each real sample's k-th nearest real neighbour); recall
    = share of real samples inside the generated manifold."""
    if min(len(real), len(fake)) <= k:
        raise GanlabError(f"precision/recall with k = {k} needs more than {k} images in each set")
    real_t, fake_t = _tensor(real), _tensor(fake)
    radius_fake, radius_real = _kth_neighbour(fake_t, k), _kth_neighbour(real_t, k)
    if len(real) * len(fake) <= PR_FULL:  # one matrix, read both ways
        real_to_fake = torch.cat([_distances(part, fake_t) for part in real_t.split(PR_BLOCK)])
        recall = (real_to_fake <= radius_fake).any(dim=1).float().mean()
        precision = (real_to_fake.T <= radius_real).any(dim=1).float().mean()
    else:  # blocks: the same comparisons, less memory
        recall, precision = _covered(real_t, fake_t, radius_fake), _covered(fake_t, real_t, radius_real)
    return {"precision": precision.item(), "recall": recall.item()}


# --------------------------------------------------------------------------- all of them, with the protocol


@dataclass(frozen=True)
class MetricOptions:
    """compute_metrics' settings, as each metric's functions read them."""

    is_splits: int
    kid_subsets: int
    kid_subset_size: int
    pr_k: int
    seed: int


@dataclass(frozen=True)
class Headline:
    """One headline number of a metric: a column of table.json, of reports/metrics/README.md and of the
    plots CSV, and optionally a number in the report page's line under each run."""

    key: str  # its key in the result, and its column in table.json and the plots CSV
    label: str  # its column header in the README table (with " (std)" when it has a spread) and name on the page
    digits: int  # decimals in the README table
    lower_is_better: bool  # said above each README table
    order: int  # display position among all metrics' columns; METRICS is in compute order (the result's key order)
    spread: str | None = None  # result key of its std: after it in table.json, in parentheses in the README
    page_digits: int | None = None  # decimals on the report page's line under each run; None: not there


#: (real, fake, options) -> a metric's numbers, or the settings it stamps into the protocol
MetricFunction = Callable[[Features, Features, MetricOptions], dict[str, Any]]


@dataclass(frozen=True)
class Metric:
    """A sample-quality metric: its numbers, its protocol settings and how the reports show it."""

    compute: MetricFunction  # -> result keys and numbers, merged into compute_metrics' result
    settings: MetricFunction  # -> protocol["metrics"][name]
    headline: tuple[Headline, ...]


def _checked(metrics: dict[str, Metric]) -> dict[str, Metric]:
    """``metrics``, refused if two headline numbers share a result key (the later would overwrite the earlier)."""
    keys = [k for m in metrics.values() for h in m.headline for k in (h.key, h.spread) if k]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise GanlabError(f"two headline numbers of the metrics share the result key(s) {', '.join(twice)}")
    return metrics


#: name -> metric, in compute order. Adding one here adds it to compute_metrics' results and protocol,
#: table.json, the README table, the plots CSV and (with page_digits) the report page.
METRICS: dict[str, Metric] = _checked({
    "is": Metric(
        compute=lambda real, fake, o: inception_score(fake.for_metric("isc"), o.is_splits, o.seed),
        settings=lambda real, fake, o: {"splits": o.is_splits, "shuffle_seed": o.seed, "of": "generated images"},
        headline=(Headline("is_mean", "IS", 2, lower_is_better=False, order=3, spread="is_std", page_digits=2),)),
    "fid": Metric(
        compute=lambda real, fake, o: {"fid": fid(real.for_metric("fid"), fake.for_metric("fid"))},
        settings=lambda real, fake, o: {"covariance": "unbiased (N-1)", "sqrtm": "eigenvalues of S_real S_fake"},
        headline=(Headline("fid", "FID", 2, lower_is_better=True, order=1, page_digits=2),)),
    "kid": Metric(
        compute=lambda real, fake, o: kid(real.for_metric("kid"), fake.for_metric("kid"), o.kid_subsets,
                                          o.kid_subset_size, o.seed),
        settings=lambda real, fake, o: {"subsets": o.kid_subsets,
                                        "subset_size": min(o.kid_subset_size, len(real), len(fake)),
                                        "kernel": KID_KERNEL, "estimator": "unbiased MMD^2", "seed": o.seed},
        headline=(Headline("kid_mean", "KID", 4, lower_is_better=True, order=2, spread="kid_std"),)),
    "pr": Metric(
        compute=lambda real, fake, o: precision_recall(real.for_metric("prc"), fake.for_metric("prc"), o.pr_k),
        settings=lambda real, fake, o: {"k": o.pr_k, "distance": "euclidean"},
        headline=(Headline("precision", "precision", 3, lower_is_better=False, order=4, page_digits=2),
                  Headline("recall", "recall", 3, lower_is_better=False, order=5, page_digits=2))),
})


def headline_columns() -> list[Headline]:
    """Every metric's headline numbers, in their display order (read at each call, so a metric added
    to :data:`METRICS` later is there too)."""
    return sorted((h for m in METRICS.values() for h in m.headline), key=lambda h: h.order)


def compute_metrics(fake: Features, real: Features, metrics: Collection[str] = METRICS, *, is_splits: int = 10,
                    kid_subsets: int = 100, kid_subset_size: int = 1000, pr_k: int = 3,
                    seed: int = SEED) -> dict[str, Any]:
    """The requested ``metrics`` (names in :data:`METRICS`) of generated ``fake`` against ``real``,
    and ``protocol``: how they were measured. Both must come from the same extractor weights."""
    unknown = sorted(set(metrics) - set(METRICS))
    if unknown:
        raise GanlabError(f"unknown metric(s) {', '.join(unknown)}; choose from {', '.join(METRICS)}")
    for key in ("extractor", "extractor_weights_sha256", "feature_layers"):
        if fake.protocol.get(key) != real.protocol.get(key):
            raise GanlabError(f"generated and real features come from different extractors ({key}: "
                              f"{fake.protocol.get(key)} vs {real.protocol.get(key)}); their distance means nothing")
    options = MetricOptions(is_splits, kid_subsets, kid_subset_size, pr_k, seed)
    results: dict[str, Any] = {}
    settings: dict[str, Any] = {}
    for name, metric in METRICS.items():  # registry order, not the request's: the result's key order is fixed
        if name in metrics:
            results.update(metric.compute(real, fake, options))
            settings[name] = metric.settings(real, fake, options)
    extractor_keys = ("extractor", "extractor_weights", "extractor_weights_sha256", "extractor_trained_on",
                      "feature_layers", "input_size", "resize")
    results["protocol"] = {
        **{k: real.protocol.get(k) for k in extractor_keys},
        "dataset": real.protocol.get("dataset"),
        "reference_split": real.protocol.get("split"),
        "reference_subset": real.protocol.get("subset"),
        "data_fingerprint": real.protocol.get("data_fingerprint"),
        "n_real": len(real),
        "n_fake": len(fake),
        "image_size": {"real": real.protocol.get("image_size"), "fake": fake.protocol.get("image_size")},
        "generated": {k: v for k, v in fake.protocol.items() if k not in extractor_keys},
        "metrics": settings,
        "torch_fidelity": importlib.metadata.version("torch-fidelity"),  # the definitions these numbers equal
    }
    return results


def evaluate_images(fake_images: np.ndarray | torch.Tensor, real: Features | np.ndarray | torch.Tensor,
                    extractor: Extractor, metrics: Collection[str] = METRICS, *, dataset: str = "",
                    reference_split: str = "", batch_size: int = 64, device: str = "cpu",
                    **options: Any) -> dict[str, Any]:
    """Metrics of generated images against a real set (images, or Features from
    :func:`reference_features`); ``options`` go to :func:`compute_metrics`."""
    fake = extract_features(fake_images, extractor, batch_size=batch_size, device=device)
    if not isinstance(real, Features):
        real = extract_features(real, extractor, batch_size=batch_size, device=device,
                                source={"dataset": dataset, "split": reference_split})
    return compute_metrics(fake, real, metrics, **options)


def class_accuracy(images: np.ndarray | torch.Tensor, requested: np.ndarray | torch.Tensor | Sequence[int],
                   extractor: Extractor, *, batch_size: int = 256, device: str = "cpu") -> dict[str, Any]:
    """How often the evaluator recognises the class a conditional generator was asked for:
    overall and per class (by the evaluator's class names), with the protocol."""
    if not extractor.class_names:
        raise GanlabError(f"{extractor.name} has no classes of this dataset; class accuracy needs the evaluator")
    wanted = np.asarray(torch.as_tensor(requested).cpu(), dtype=np.int64).reshape(-1)
    n_classes = len(extractor.class_names)
    if wanted.size and (wanted.min() < 0 or wanted.max() >= n_classes):
        raise GanlabError(f"requested classes must lie in 0..{n_classes - 1}; got {wanted.min()}..{wanted.max()}")
    features = extract_features(images, extractor, batch_size=batch_size, device=device)
    if len(features) != len(wanted):
        raise GanlabError(f"{len(features)} images but {len(wanted)} requested classes")
    result = class_accuracy_of_logits(features.for_metric("isc"), wanted, extractor.class_names)
    counts = {extractor.class_names[c]: int((wanted == c).sum()) for c in np.unique(wanted)}
    result["protocol"] = {**extractor.protocol(), "n": len(wanted), "n_per_class": counts,
                          "image_size": features.protocol["image_size"]}
    return result


def class_accuracy_of_logits(logits: np.ndarray, requested: np.ndarray | torch.Tensor,
                             class_names: Sequence[str]) -> dict[str, Any]:
    """How often the classifier's top class (``logits`` (N, classes)) is the requested one: overall,
    per requested class (by name), and chance (1 / classes)."""
    wanted = np.asarray(torch.as_tensor(requested).cpu(), dtype=np.int64).reshape(-1)
    hit = np.asarray(logits).argmax(1) == wanted
    per_class = {class_names[c]: float(hit[wanted == c].mean()) for c in np.unique(wanted)}
    return {"accuracy": float(hit.mean()), "per_class": per_class, "chance": 1.0 / len(class_names)}
