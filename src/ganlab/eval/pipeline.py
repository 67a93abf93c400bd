"""The metric stages of the pipeline: reference@<dataset> and metrics@<run> (params ``metrics:``).

reference@<dataset> extracts the features of a dataset's real images once per data version and
extractor weights (DVC caches them under data/references/<dataset>); metrics@<run> draws
``n_fake`` images from a run's generator.pt, extracts theirs with the same extractor and writes
every number with its protocol to reports/metrics/runs/<run>.json: Inception Score, FID, KID,
precision/recall, for conditional runs the evaluator's accuracy on each requested class, the
share of samples that copy a training image (perceptual hash within the de-duplication
threshold) and a grid of samples beside their nearest training images, and on request the GAN
paper's Parzen-window log-likelihood.

A dataset without an evaluator of its own (the unlabelled faces) is measured by another
dataset's evaluator (``metrics.references``: faces -> cifar10), its images converted to that
network's channels and size; the protocol says so, as papers say "Inception-v3 (ImageNet)" for faces.

A run trained at a smaller side than its dataset's (``train.image_size``: 32-px faces of the 64-px set)
is measured at the side it draws: the real images reach the evaluator through the resize its training
images went through (ganlab.images.resize_images), and where samples meet training images
(copies, nearest neighbours, Parzen) the training images are shrunk to the samples' side (:func:`as_trained`).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganlab.data.config import DedupParams
from ganlab.data.datasets import load_images, read_info
from ganlab.errors import GanlabError
from ganlab.eval import floors
from ganlab.eval import memorisation as memo
from ganlab.eval import metrics as M
from ganlab.eval.config import MetricsParams
from ganlab.eval.parzen import parzen_log_likelihood
from ganlab.eval.evaluator import WEIGHTS_FILE, data_fingerprint
from ganlab.eval.extractors import Extractor, adapt_images, get_extractor
from ganlab.eval.metrics import Features
from ganlab.files import atomic_directory, hash_file, write_json_atomic
from ganlab.images import RESIZE, nchw, resize_images
from ganlab.runs import RunDir, load_generator
from ganlab.schema import unknown_key_message

log = logging.getLogger(__name__)

REFERENCE_INFO = "reference.json"
#: the splits a reference holds: train (the memorisation checks search it) and test (the real baseline,
#: and the reference when metrics.reference_split is test)
REFERENCE_SPLITS = ("train", "test")
HASHES_FILE = "train_hashes.npy"  # perceptual hashes of the train images (params dedup.hash, hash_size)
PARZEN_VALIDATION = 10000  # the last 10,000 train images choose sigma, as the MNIST validation split of the GAN paper


# --------------------------------------------------------------------------- the extractor of a reference


def choose_extractor(metrics_params: MetricsParams, evaluator_dataset: str, data_root: str | Path) -> Extractor:
    """The network ``metrics.extractor`` names: the evaluator trained on ``evaluator_dataset``
    (DATA_ROOT/evaluators/<dataset>/evaluator.pt) or Inception-v3 from its local weights."""
    if metrics_params.extractor == "evaluator":
        return evaluator_extractor(evaluator_dataset, data_root)
    return get_extractor(metrics_params.extractor, metrics_params.inception_weights or None)


def evaluator_extractor(dataset: str, data_root: str | Path) -> Extractor:
    """The evaluator network trained on ``dataset`` (DATA_ROOT/evaluators/<dataset>/evaluator.pt, stage
    evaluator@<dataset>) as an extractor: the metrics' and the claims' classifier."""
    weights = Path(data_root) / "evaluators" / dataset / WEIGHTS_FILE
    if not weights.is_file():
        raise GanlabError(f"{weights}: no evaluator for {dataset}; run `dvc repro evaluator@{dataset}` first")
    return get_extractor("evaluator", weights)


def fit_images(images: torch.Tensor, extractor: Extractor) -> tuple[torch.Tensor, str]:
    """Images as ``extractor`` takes them: an evaluator's own channels and size (converted, and
    said so, when they differ); Inception-v3 resizes inside itself."""
    if extractor.image_size is None:
        return images, ""
    return adapt_images(images, extractor.channels, extractor.image_size)


# --------------------------------------------------------------------------- reference@<dataset>


def real_baseline(metrics: MetricsParams, ref_dir: str | Path, extractor: Extractor | None = None,
                  image_shape: tuple[int, ...] | None = None) -> dict[str, Any]:
    """The metrics of real held-out images under the same protocol as a run's: the other split
    (test when the reference is train) in the generated images' place, ``n_fake`` of them. What a
    perfect generator would score: FID and KID near their floor, precision and recall near 1.

    With ``extractor`` and the dataset's (H, W, C) ``image_shape``, also ``floors``: the same metrics of the two
    failures of :mod:`ganlab.eval.floors` (one held-out image repeated; uniform noise), ``n_fake`` each."""
    m = metrics
    other = "test" if m.reference_split == "train" else "train"
    real = subset(load_reference(ref_dir, m.reference_split)[0], m.n_real, m.seed)
    held_out = subset(load_reference(ref_dir, other)[0], m.n_fake, m.seed + 1)
    held_out.protocol = {**held_out.protocol, "run": f"real {other} images"}
    options = {"is_splits": m.is_splits, "kid_subsets": m.kid_subsets, "kid_subset_size": m.kid_subset_size,
               "pr_k": m.pr_k}
    result = M.compute_metrics(held_out, real, **options)
    if extractor is not None and image_shape is not None:
        noise, adapted = fit_images(nchw(floors.noise_images(image_shape, m.n_fake, m.seed + 2)), extractor)
        noise_features = M.extract_features(noise, extractor, batch_size=m.batch_size, progress=False,
                                            source={"run": "uniform noise", "seed": m.seed + 2, "adapted": adapted})
        result["floors"] = {
            "one-image": M.compute_metrics(floors.one_image_features(held_out, m.n_fake), real, **options),
            "noise": M.compute_metrics(noise_features, real, **options),
        }
        measured = {"one-image": f"the first of the held-out real {other} images, repeated {m.n_fake} times",
                    "noise": f"{m.n_fake} images of uniform random pixels, seed {m.seed + 2}"}
        for name, floor in result["floors"].items():
            del floor["protocol"]  # the real images' protocol above, but for what was measured
            floor["measured"] = measured[name]
    return result


def write_reference_stage(metrics: MetricsParams, dedup: DedupParams, dataset: str, data_root: str | Path,
                          out: str | Path, baseline: str | Path | None = None, batch_size: int | None = None
                          ) -> dict[str, Any]:
    """Stage reference@<dataset>: OUT/<split>.npz, the features of every image of each split in
    ``REFERENCE_SPLITS``, and OUT/reference.json, how they were made; BASELINE (JSON), the
    real held-out images' metrics (:func:`real_baseline`). Written to a temporary folder first,
    so an interrupted run leaves the last good reference. ``metrics`` and ``dedup`` are params ``metrics:``
    and ``dedup:`` (the perceptual hash of the memorisation check)."""
    m = metrics
    if dataset not in m.references:
        raise GanlabError(unknown_key_message(f"metrics.references.{dataset}", dataset, sorted(m.references)))
    root = Path(data_root) / dataset
    extractor = choose_extractor(m, m.references[dataset], data_root)
    info = read_info(root)
    started = time.perf_counter()
    summary: dict[str, Any] = {
        "dataset": dataset, "dataset_variant": info.get("variant", "official"),
        "data_fingerprint": data_fingerprint(root), "extractor_kind": m.extractor,
        "extractor_weights_path": str(extractor.weights), **extractor.protocol(), "splits": {},
    }
    raw = {split: load_images(root, split)[0].images for split in REFERENCE_SPLITS}
    kept: dict[str, Features] = {}
    with atomic_directory(Path(out), REFERENCE_INFO) as tmp:
        for split in REFERENCE_SPLITS:
            images, adapted = fit_images(nchw(raw[split]), extractor)
            source = {"dataset": dataset, "dataset_variant": summary["dataset_variant"], "split": split,
                      "data_fingerprint": summary["data_fingerprint"], "subset": None, "adapted": adapted}
            features = M.extract_features(images, extractor, batch_size=batch_size or m.batch_size,
                                          progress=False, source=source)
            M.save_features(features, tmp / f"{split}.npz")
            kept[split] = features
            summary["splits"][split] = {"n": len(features), "adapted": adapted}
        # the nearest-neighbour check's held-out yardstick: the same for every run on the dataset, so found here once
        t = time.perf_counter()
        near = memo.heldout_distances(subset(kept["test"], memorisation_checked(m), m.seed + 1).for_metric("fid"),
                                      kept["train"].for_metric("fid"))
        summary["heldout_nearest"] = {**near, "for_checked": memorisation_checked(m), "seed": m.seed + 1,
                                      "seconds": round(time.perf_counter() - t, 2)}  # n < for_checked: a small test split
        t = time.perf_counter()
        train_images = raw["train"]
        np.save(tmp / HASHES_FILE, memo.perceptual_hashes(train_images, dedup.hash, dedup.hash_size))
        summary["hashes"] = {"hash": dedup.hash, "hash_size": dedup.hash_size, "n": len(train_images),
                             "seconds": round(time.perf_counter() - t, 2)}
        summary["seconds"] = round(time.perf_counter() - started, 2)
        write_json_atomic(tmp / REFERENCE_INFO, summary)
        if baseline is not None:
            result = real_baseline(m, tmp, extractor, tuple(raw["test"].shape[1:]))
            result["protocol"].update(dataset_variant=summary["dataset_variant"],
                                      reference_adapted=summary["splits"]["train"]["adapted"],
                                      evaluator_dataset=m.references[dataset] if m.extractor == "evaluator" else None)
            held_out = raw["test"][: memorisation_checked(m)]  # never in the bank it is searched in
            result["memorisation"] = memo.hash_copies(
                held_out, train_images, np.load(tmp / HASHES_FILE), method=dedup.hash, hash_size=dedup.hash_size,
                threshold=dedup.threshold, min_correlation=dedup.min_correlation)
            write_json_atomic(baseline, result)
    log.info("reference@%s: %s in %.1f s", dataset,
             ", ".join(f"{s} {v['n']}" for s, v in summary["splits"].items()), summary["seconds"])
    return summary


def memorisation_checked(metrics: MetricsParams) -> int:
    """How many samples of a run the memorisation checks look at: the first ``memorisation_samples`` (all when 0)."""
    return min(metrics.n_fake, metrics.memorisation_samples or metrics.n_fake)


def load_reference(ref_dir: str | Path, split: str) -> tuple[Features, dict[str, Any]]:
    """The features of ``split`` in a reference folder, and its reference.json."""
    ref_dir = Path(ref_dir)
    try:
        info = json.loads((ref_dir / REFERENCE_INFO).read_text())
    except FileNotFoundError:
        raise GanlabError(f"{ref_dir / REFERENCE_INFO}: no reference here; run `dvc repro reference@<dataset>`") from None
    path = ref_dir / f"{split}.npz"
    if not path.is_file():
        raise GanlabError(f"{path}: the reference has no {split} split (it holds {', '.join(info['splits'])})")
    return M.load_features(path), info


def subset(features: Features, n: int, seed: int) -> Features:
    """``n`` rows drawn without replacement with ``seed`` (all when n is 0 or at least the size); the
    protocol records the draw."""
    if not n or n >= len(features):
        return features
    pick = np.sort(np.random.default_rng(seed).choice(len(features), n, replace=False))
    protocol = {**features.protocol, "subset": {"n": n, "of": len(features), "seed": seed}, "n": n}
    return M.Features({k: v[pick] for k, v in features.arrays.items()}, protocol)


# --------------------------------------------------------------------------- generated images


@torch.no_grad()
def generate(variant: Any, n: int, seed: int, batch_size: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``n`` images of a trained variant as uint8 (N, C, H, W), from noise drawn with ``seed``;
    a conditional variant is asked for every class in turn (labels returned), so each class gets
    n / n_classes images. The caller's random state is left as it was."""
    variant.nets.eval()
    conditional = bool(variant.conditional and variant.data.n_classes)
    labels = torch.arange(n) % variant.data.n_classes if conditional else None
    parts = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # for variants that draw more than their noise (VQ-VAE's prior)
        g = torch.Generator(device=variant.device).manual_seed(seed)
        noise = variant.noise(n, generator=g)  # drawn at once: the batch size cannot change the codes
        for start in range(0, n, batch_size):
            z = noise[start : start + batch_size]
            y = labels[start : start + len(z)].to(variant.device) if labels is not None else None
            x = variant.sample(z, y)
            if not torch.isfinite(x).all():
                raise GanlabError(f"the generator gave non-finite pixels in samples {start}..{start + len(z) - 1}; "
                                  "its weights are broken (a NaN during training?)")
            parts.append(M.as_uint8_images(x))
    return torch.cat(parts), labels


def as_trained(images: np.ndarray, side: tuple[int, ...], dataset: str) -> tuple[np.ndarray, str]:
    """A dataset's uint8 (N, H, W, C) images at a run's sample ``side`` (H, W), as the run read them when
    it trained at a smaller ``train.image_size`` (:func:`ganlab.images.resize_images`, the trainer's and the
    evaluator's resize), and what was done. Where a run's samples are set beside training images (the
    memorisation checks, Parzen), the training images are shrunk, not the samples enlarged: a copy is a
    copy of what the generator saw, and enlarging would add pixels no one generated."""
    h, w = images.shape[1:3]
    if len(side) != 2 or side[0] != side[1] or side[0] > min(h, w):
        raise GanlabError(f"the generator draws {'x'.join(map(str, side))} images and {dataset}'s are {h}x{w}: "
                          "not a smaller square side a run trains at (train.image_size); was it trained on "
                          f"another dataset than {dataset}?")
    small = resize_images(nchw(images), side[0]).permute(0, 2, 3, 1).numpy()
    return small, f"{dataset}'s {h}x{w} train images resized to {side[0]}x{side[0]} ({RESIZE}), as the run trained"


# --------------------------------------------------------------------------- metrics@<run>


def write_metrics_stage(metrics: MetricsParams, dedup: DedupParams, run: str, data_root: str | Path,
                        models_root: str | Path, references_root: str | Path, out: str | Path,
                        nearest_png: str | Path | None = None) -> dict[str, Any]:
    """Stage metrics@<run>: every number of :mod:`ganlab.eval.metrics` for the run's generator
    against its dataset's reference, with the protocol, written to OUT (JSON). ``metrics`` and ``dedup`` are
    params ``metrics:`` and ``dedup:`` (the perceptual hash of the memorisation check)."""

    m = metrics
    if run not in m.runs:
        raise GanlabError(unknown_key_message(f"metrics.runs.{run}", run, sorted(m.runs)))
    dataset = m.runs[run]
    started = time.perf_counter()
    gen_path = RunDir(Path(models_root) / run).generator
    variant = load_generator(gen_path)
    real_all, ref = load_reference(Path(references_root) / dataset, m.reference_split)
    if ref.get("extractor_kind") != m.extractor:
        raise GanlabError(f"{Path(references_root) / dataset}: made with extractor {ref.get('extractor_kind')!r}, "
                          f"params ask for {m.extractor!r}; run `dvc repro reference@{dataset}`")
    heldout = ref.get("heldout_nearest") or {}
    if heldout.get("for_checked") != memorisation_checked(m) or heldout.get("seed") != m.seed + 1:
        raise GanlabError(f"{Path(references_root) / dataset}: its held-out nearest distances are for "
                          f"{heldout.get('for_checked')} checked samples (draw seed {heldout.get('seed')}), params "
                          f"ask for {memorisation_checked(m)} (seed "
                          f"{m.seed + 1}); run `dvc repro reference@{dataset}`")
    extractor = (get_extractor("evaluator", ref["extractor_weights_path"]) if m.extractor == "evaluator"
                 else get_extractor(m.extractor, ref["extractor_weights_path"]))

    t = time.perf_counter()
    images, labels = generate(variant, m.n_fake, m.seed, m.batch_size)
    generate_seconds = time.perf_counter() - t
    fitted, adapted = fit_images(images, extractor)
    source = {"run": run, "variant": variant.name, "generator_sha256": hash_file(gen_path), "seed": m.seed,
              "conditional": labels is not None, "adapted": adapted}
    t = time.perf_counter()
    fake = M.extract_features(fitted, extractor, batch_size=m.batch_size, progress=False, source=source)
    extract_seconds = time.perf_counter() - t
    real = subset(real_all, m.n_real, m.seed)
    t = time.perf_counter()
    result = M.compute_metrics(fake, real, is_splits=m.is_splits, kid_subsets=m.kid_subsets,
                               kid_subset_size=m.kid_subset_size, pr_k=m.pr_k)
    metric_seconds = time.perf_counter() - t
    result["protocol"]["dataset_variant"] = ref.get("dataset_variant")
    result["protocol"]["reference_adapted"] = real.protocol.get("adapted", "")
    result["protocol"]["evaluator_dataset"] = m.references[dataset] if m.extractor == "evaluator" else None

    if labels is not None:
        if m.extractor == "evaluator" and m.references[dataset] == dataset:
            result["class_accuracy"] = M.class_accuracy_of_logits(fake.for_metric("isc"), labels,
                                                                  extractor.class_names)
        else:
            result["class_accuracy"] = None  # the network does not know this dataset's classes
    t = time.perf_counter()
    ref_dir = Path(references_root) / dataset
    hashes_path = ref_dir / HASHES_FILE
    if not hashes_path.is_file():
        raise GanlabError(f"{hashes_path}: the reference has no train hashes; run `dvc repro reference@{dataset}`")
    if ref.get("hashes", {}).get("hash") != dedup.hash or ref["hashes"].get("hash_size") != dedup.hash_size:
        raise GanlabError(f"{ref_dir}: hashed with {ref.get('hashes')}, params dedup ask for {dedup.hash} "
                          f"of size {dedup.hash_size}; run `dvc repro reference@{dataset}`")
    train_images = load_images(Path(data_root) / dataset, "train")[0].images
    train_hashes, train_resized = np.load(hashes_path), ""
    if images.shape[2:] != train_images.shape[1:3]:  # a run trained at a smaller train.image_size
        train_images, train_resized = as_trained(train_images, tuple(images.shape[2:]), dataset)
        train_hashes = memo.perceptual_hashes(train_images, dedup.hash, dedup.hash_size)  # the reference's: full size
    checked = images[: memorisation_checked(m)]
    memorisation = memo.hash_copies(checked, train_images, train_hashes, method=dedup.hash,
                                    hash_size=dedup.hash_size, threshold=dedup.threshold,
                                    min_correlation=dedup.min_correlation)
    if train_resized:
        memorisation["protocol"]["train_images"] = train_resized
    # The nearest-neighbour check looks at the same first N samples as the hash check, against as many held-out
    # real images: each costs a search of the whole training set, so the held-out images' (the same for every run)
    # were searched once, by stage reference@<dataset>
    train_features = load_reference(ref_dir, "train")[0].for_metric("fid")
    summary, dists, idx = memo.neighbour_summary(fake.for_metric("fid")[: len(checked)], heldout, train_features,
                                                 m.nearest_k)
    memorisation["nearest"] = {**summary, "space": f"{extractor.name} {extractor.layers['fid']} features"}
    if nearest_png is not None and m.nearest_rows:
        memorisation["nearest"]["grid"] = memo.neighbour_grid(images, train_images, dists, idx, m.nearest_rows,
                                                              nearest_png)
    result["memorisation"] = memorisation
    memorisation_seconds = time.perf_counter() - t

    parzen_seconds = 0.0
    if run in m.parzen:
        t = time.perf_counter()
        test_split = load_images(Path(data_root) / dataset, "test")[0].images
        if train_resized:
            test_split = as_trained(test_split, tuple(images.shape[2:]), dataset)[0]
        result["parzen"] = parzen_log_likelihood(images, train_images[-PARZEN_VALIDATION:], test_split)
        result["parzen"]["protocol"]["validation"] = f"the last {PARZEN_VALIDATION} images of the train split"
        parzen_seconds = time.perf_counter() - t
    result["seconds"] = {"generate": round(generate_seconds, 2), "features": round(extract_seconds, 2),
                         "metrics": round(metric_seconds, 2), "memorisation": round(memorisation_seconds, 2),
                         "parzen": round(parzen_seconds, 2), "total": round(time.perf_counter() - started, 2)}
    write_json_atomic(out, result)
    log.info("metrics@%s: FID %.3f, KID %.5f, IS %.3f, precision %.3f, recall %.3f (%s, %d real, %d generated)",
             run, result["fid"], result["kid_mean"], result["is_mean"], result["precision"], result["recall"],
             extractor.name, len(real), len(fake))
    return result
