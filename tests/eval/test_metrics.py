"""Metrics on sets whose answer is known: closed forms on synthetic features, the FID paper's
disturbance test on real digits (MNIST from GANLAB_DATA_MIRROR, or a fetched one in GANLAB_DATA_ROOT),
batch-size invariance, and
equality with torch_fidelity.calculate_metrics."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch_fidelity
from torchvision.transforms.functional import gaussian_blur

from ganlab.data.datasets import INFO_FILE, load_images, write_content
from ganlab.data.formats import ImageData, ImageSplit
from ganlab.errors import GanlabError
from ganlab.eval import fidelity, metrics
from ganlab.eval.config import EvaluatorConfig
from ganlab.eval.evaluator import Evaluator, EvaluatorNet, save_evaluator, train_evaluator
from ganlab.eval.extractors import Extractor, get_extractor
from ganlab.eval.metrics import (
    Features,
    UInt8Images,
    as_uint8_images,
    class_accuracy,
    compute_metrics,
    extract_features,
    fid,
    frechet_distance,
    inception_score,
    kid,
    load_features,
    precision_recall,
    reference_features,
    save_features,
)

MIRROR = os.environ.get("GANLAB_DATA_MIRROR")  # CI sets it when ../shared/datasets exists
DATA_ROOT = os.environ.get("GANLAB_DATA_ROOT")  # or a project's data/ after `dvc repro fetch`
needs_mnist = pytest.mark.skipif(
    not (MIRROR and Path(MIRROR).is_dir()) and not (DATA_ROOT and Path(DATA_ROOT, "mnist", INFO_FILE).is_file()),
    reason="neither GANLAB_DATA_MIRROR nor GANLAB_DATA_ROOT gives MNIST")


def kid_of_a_set_with_itself(x: np.ndarray) -> float:
    """The unbiased MMD^2 estimate of a set against itself: -2 (mean k(x, x) - mean k(x, y)) / m,
    not 0 (the cross term keeps the diagonal); it vanishes as 1/m."""
    k = (x.astype(np.float64) @ x.T.astype(np.float64) / x.shape[1] + 1.0) ** 3
    m = len(x)
    off = (k.sum() - np.trace(k)) / (m * (m - 1))
    return -2.0 * (np.trace(k) / m - off) / m


def features(arrays: dict[str, np.ndarray], **protocol: object) -> Features:
    """Features as an evaluator would give them (layer names and protocol of the evaluator)."""
    layers = {"isc": "logits", "fid": "features", "kid": "features", "prc": "features"}
    base = {"extractor": "ganlab-evaluator", "extractor_weights_sha256": "0" * 64, "feature_layers": layers}
    return Features(arrays, {**base, **protocol})


@pytest.fixture
def random_extractor(tmp_path: Path) -> Extractor:
    torch.manual_seed(0)
    net = EvaluatorNet(1, 10, 28, width=4, features=16).eval()
    path = save_evaluator(Evaluator(net, {"dataset": "random", "classes": [str(i) for i in range(10)]}),
                          tmp_path / "random.pt")
    return get_extractor("evaluator", path)


def noise_images(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 28, 28, 1), dtype=np.uint8)


# --------------------------------------------------------------------------- closed forms


def test_frechet_distance_of_gaussians_equals_the_closed_form() -> None:
    rng = np.random.default_rng(0)
    d = 6
    a, b = rng.normal(size=(d, d)), rng.normal(size=(d, d))
    s1, s2 = a @ a.T + 0.1 * np.eye(d), b @ b.T + 0.1 * np.eye(d)  # do not commute
    m1, m2 = rng.normal(size=d), rng.normal(size=d)
    # Tr (S1 S2)^(1/2) = Tr (S1^(1/2) S2 S1^(1/2))^(1/2), the latter symmetric: eigh twice
    w, v = np.linalg.eigh(s1)
    root1 = v @ np.diag(np.sqrt(w)) @ v.T
    inner = np.linalg.eigvalsh(root1 @ s2 @ root1)
    expected = float(np.sum((m1 - m2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.sum(np.sqrt(inner)))
    got = frechet_distance({"mu": m1, "sigma": s1}, {"mu": m2, "sigma": s2})
    assert got == pytest.approx(expected, rel=1e-9)
    # diagonal covariances: |m1 - m2|^2 + sum (sd1 - sd2)^2
    sd1, sd2 = np.array([1.0, 2.0, 0.5]), np.array([3.0, 1.0, 0.5])
    got = frechet_distance({"mu": np.zeros(3), "sigma": np.diag(sd1**2)}, {"mu": np.ones(3), "sigma": np.diag(sd2**2)})
    assert got == pytest.approx(3.0 + 4.0 + 1.0 + 0.0, rel=1e-9)


def test_fid_of_samples_approaches_the_closed_form() -> None:
    rng = np.random.default_rng(1)
    sd1, sd2 = np.array([1.0, 2.0, 0.5, 1.0]), np.array([2.0, 1.0, 0.5, 1.5])
    m1, m2 = np.zeros(4), np.array([1.0, 0.0, -1.0, 0.5])
    x = (m1 + sd1 * rng.normal(size=(40_000, 4))).astype(np.float32)
    y = (m2 + sd2 * rng.normal(size=(40_000, 4))).astype(np.float32)
    expected = float(np.sum((m1 - m2) ** 2) + np.sum((sd1 - sd2) ** 2))  # 2.25 + 2.25 = 4.5
    assert fid(x, y) == pytest.approx(expected, rel=0.03)


def test_identical_sets_give_fid_zero_kid_zero_and_full_precision_recall() -> None:
    x = np.random.default_rng(2).normal(size=(600, 16)).astype(np.float32)
    assert abs(fid(x, x)) < 1e-6
    shifted = kid(x, x + 0.5, subsets=20, subset_size=300)["kid_mean"]
    same = kid(x, x, subsets=20, subset_size=300)["kid_mean"]  # subsets drawn apart: noise around 0
    assert shifted > 0.1 and abs(same) < 0.05 * shifted
    whole = kid(x, x, subsets=3, subset_size=600)  # every subset is the whole set
    assert whole["kid_mean"] == pytest.approx(kid_of_a_set_with_itself(x), rel=1e-4) and whole["kid_std"] < 1e-6
    assert precision_recall(x, x) == {"precision": 1.0, "recall": 1.0}


def test_precision_is_quality_and_recall_is_coverage() -> None:
    rng = np.random.default_rng(3)
    mode_a, mode_b = np.array([0.0, 0.0]), np.array([100.0, 0.0])
    real = np.concatenate([mode_a + rng.normal(size=(300, 2)), mode_b + rng.normal(size=(300, 2))]).astype(np.float32)
    collapsed = (mode_a + rng.normal(size=(300, 2))).astype(np.float32)  # one mode, faithfully
    pr = precision_recall(real, collapsed)
    assert pr["precision"] > 0.9 and 0.4 < pr["recall"] < 0.55
    off = (np.array([0.0, 100.0]) + rng.normal(size=(300, 2))).astype(np.float32)  # nowhere near the data
    assert precision_recall(real, off) == {"precision": 0.0, "recall": 0.0}


def test_inception_score_of_extreme_classifiers() -> None:
    labels = np.arange(100_000) % 10
    confident = 30.0 * np.eye(10)[labels]  # sure of a class, all classes about equally often in each split
    assert inception_score(confident)["is_mean"] == pytest.approx(10.0, rel=2e-3)
    assert inception_score(confident)["is_std"] < 0.02
    assert inception_score(30.0 * np.eye(10)[np.zeros(1000, int)])["is_mean"] == pytest.approx(1.0, rel=1e-3)
    assert inception_score(np.zeros((1000, 10)))["is_mean"] == pytest.approx(1.0)
    with pytest.raises(GanlabError, match="at least 10 images"):
        inception_score(np.zeros((5, 10)))


def test_compute_metrics_writes_the_protocol_and_refuses_mixed_extractors() -> None:
    rng = np.random.default_rng(4)
    real = features({"features": rng.normal(size=(200, 8)), "logits": rng.normal(size=(200, 10))},
                    dataset="mnist", split="test", data_fingerprint="abc", n=200, image_size=[28, 28],
                    input_size=[28, 28], resize="none")
    fake = features({"features": rng.normal(size=(100, 8)), "logits": rng.normal(size=(100, 10))},
                    n=100, image_size=[28, 28], generator="dcgan")
    out = compute_metrics(fake, real, kid_subsets=5)
    assert set(out) == {"is_mean", "is_std", "fid", "kid_mean", "kid_std", "precision", "recall", "protocol"}
    p = out["protocol"]
    assert (p["extractor"], p["dataset"], p["reference_split"], p["n_real"], p["n_fake"]) == \
        ("ganlab-evaluator", "mnist", "test", 200, 100)
    assert p["extractor_weights_sha256"] == "0" * 64 and p["input_size"] == [28, 28] and p["resize"] == "none"
    assert p["metrics"]["kid"]["subset_size"] == 100 and p["metrics"]["is"]["splits"] == 10
    assert p["generated"]["generator"] == "dcgan"
    json.dumps(out)  # a protocol that cannot be written down is no protocol
    other = Features(fake.arrays, {**fake.protocol, "extractor_weights_sha256": "1" * 64})
    with pytest.raises(GanlabError, match="different extractors"):
        compute_metrics(other, real)
    with pytest.raises(GanlabError, match="unknown metric"):
        compute_metrics(fake, real, ["fid", "lpips"])


def test_a_metric_added_to_the_registry_reaches_results_protocol_table_plots_and_page(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """metrics.METRICS is the one place a metric is added: its numbers and settings reach compute_metrics'
    result and protocol, its headline number table.json's row, the README table, the plots CSV and the page."""
    from ganlab.report.metrics import build_table, flat_row, plot_rows
    from ganlab.report.page import _headline

    spread = metrics.Metric(
        compute=lambda real, fake, o: {"spread_ratio": float(fake.for_metric("fid").std()
                                                             / real.for_metric("fid").std())},
        settings=lambda real, fake, o: {"of": "std of the features", "seed": o.seed},
        headline=(metrics.Headline("spread_ratio", "spread", 3, lower_is_better=False, order=0, page_digits=1),))
    monkeypatch.setitem(metrics.METRICS, "spread", spread)
    rng = np.random.default_rng(5)
    real = features({"features": rng.normal(size=(60, 4)), "logits": rng.normal(size=(60, 10))}, dataset="toy")
    fake = features({"features": 2 * rng.normal(size=(40, 4)), "logits": rng.normal(size=(40, 10))}, variant="gan")
    result = compute_metrics(fake, real, kid_subsets=3, kid_subset_size=20)
    assert list(result)[-2:] == ["spread_ratio", "protocol"] and result["spread_ratio"] == pytest.approx(2, rel=0.3)
    assert result["protocol"]["metrics"]["spread"] == {"of": "std of the features", "seed": metrics.SEED}
    assert compute_metrics(fake, real, ["spread"]).keys() == {"spread_ratio", "protocol"}
    row = flat_row(result)
    assert list(row)[:2] == ["spread_ratio", "fid"]  # order 0: before FID
    (tmp_path / "toy.json").write_text(json.dumps(result))
    table, markdown = build_table(tmp_path)
    assert table["toy"] == row
    assert "| run | variant | spread | FID | KID (std) |" in markdown
    assert f"| toy | gan | {result['spread_ratio']:.3f} | {result['fid']:.2f} |" in markdown
    assert "spread, IS, precision, recall, class accuracy: higher is better" in markdown
    assert plot_rows({"toy": result}, table, ["toy"])["toy"].startswith("run,spread_ratio,fid,")
    assert _headline(tmp_path / "toy.json").startswith(f" spread {result['spread_ratio']:.1f}, FID ")
    with pytest.raises(GanlabError, match="share the result key"):
        metrics._checked({**metrics.METRICS, "fid2": metrics.METRICS["fid"]})


def test_generator_output_is_quantised_like_a_png() -> None:
    x = torch.tensor([-1.0, -0.999, 0.0, 0.5, 1.0, 1.2]).view(1, 1, 1, 6)
    assert as_uint8_images(x).flatten().tolist() == [0, 0, 128, 191, 255, 255]
    nhwc = noise_images(3, seed=0)
    assert torch.equal(as_uint8_images(nhwc), as_uint8_images(torch.from_numpy(nhwc).permute(0, 3, 1, 2)))


# --------------------------------------------------------------------------- through the networks


def test_equal_to_torch_fidelity_calculate_metrics(random_extractor: Extractor) -> None:
    fake_x, real_x = as_uint8_images(noise_images(200, 0)), as_uint8_images(noise_images(300, 1))
    ours = compute_metrics(extract_features(fake_x, random_extractor), extract_features(real_x, random_extractor),
                           kid_subsets=10, kid_subset_size=100)
    theirs = torch_fidelity.calculate_metrics(
        input1=UInt8Images(fake_x), input2=UInt8Images(real_x), cuda=False, isc=True, fid=True, kid=True, prc=True,
        kid_subsets=10, kid_subset_size=100, cache=False, verbose=False, save_cpu_ram=True,
        **fidelity.calculate_metrics_kwargs(random_extractor))
    pairs = {"is_mean": "inception_score_mean", "is_std": "inception_score_std", "fid": "frechet_inception_distance",
             "kid_mean": "kernel_inception_distance_mean", "kid_std": "kernel_inception_distance_std",
             "precision": "precision", "recall": "recall"}
    for mine, key in pairs.items():
        assert ours[mine] == pytest.approx(theirs[key], rel=1e-6, abs=1e-9), mine


@pytest.mark.parametrize("blocks", [False, True])
def test_each_formula_equals_torch_fidelitys_bit_for_bit(monkeypatch: pytest.MonkeyPatch, blocks: bool) -> None:
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
    from torch_fidelity.metric_isc import isc_features_to_metric
    from torch_fidelity.metric_kid import kid_features_to_metric
    from torch_fidelity.metric_prc import prc_features_to_metric

    rng = np.random.default_rng(3)
    real = rng.normal(size=(700, 24)).astype(np.float32)
    fake = (rng.normal(size=(500, 24)) * 1.2 + 0.3).astype(np.float32)
    batch = 10000
    if blocks:  # the distances in blocks of 64 rows, as torch-fidelity's save_cpu_ram path takes them
        batch = 64
        monkeypatch.setattr(metrics, "PR_BLOCK", batch)
        monkeypatch.setattr(metrics, "PR_FULL", 0)
    t = torch.from_numpy
    isc = isc_features_to_metric(t(fake[:, :10]), 10, shuffle=True, rng_seed=metrics.SEED)
    assert metrics.inception_score(fake[:, :10]) == {"is_mean": isc["inception_score_mean"],
                                                     "is_std": isc["inception_score_std"]}
    theirs_fid = fid_statistics_to_metric(fid_features_to_statistics(t(real)), fid_features_to_statistics(t(fake)),
                                          verbose=False)
    assert metrics.fid(real, fake) == theirs_fid["frechet_inception_distance"]
    kid = kid_features_to_metric(t(fake), t(real), kid_subsets=7, kid_subset_size=300, rng_seed=metrics.SEED,
                                 verbose=False)
    assert metrics.kid(real, fake, 7, 300) == {"kid_mean": kid["kernel_inception_distance_mean"],
                                               "kid_std": kid["kernel_inception_distance_std"]}
    prc = prc_features_to_metric(t(fake), t(real), prc_neighborhood=3, prc_batch_size=batch, save_cpu_ram=blocks,
                                 verbose=False)
    assert metrics.precision_recall(real, fake, 3) == {"precision": prc["precision"], "recall": prc["recall"]}


def test_the_metrics_stage_imports_neither_torch_fidelity_nor_torchvision() -> None:
    """They import torch._dynamo, 1.9 s of every metrics stage's start-up; Inception-v3 imports them when chosen."""
    code = ("import sys, ganlab.eval.pipeline, ganlab.eval.transfer; "
            "print(sorted(m for m in ('torch_fidelity', 'torchvision', 'torch._dynamo') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_evaluate_images_takes_generator_output_and_a_real_set(random_extractor: Extractor) -> None:
    fake = torch.rand(60, 1, 28, 28) * 2 - 1  # what Variant.sample returns
    out = metrics.evaluate_images(fake, noise_images(80, 1), random_extractor, ["fid", "is"], dataset="noise",
                                  reference_split="test")
    assert set(out) == {"fid", "is_mean", "is_std", "protocol"} and out["fid"] > 0
    p = out["protocol"]
    assert (p["dataset"], p["reference_split"], p["n_real"], p["n_fake"]) == ("noise", "test", 80, 60)
    with pytest.raises(GanlabError, match="uint8 or float"):
        metrics.evaluate_images(torch.zeros(4, 1, 28, 28, dtype=torch.int64), noise_images(8, 1), random_extractor)


def test_batch_size_does_not_change_any_metric(random_extractor: Extractor) -> None:
    fake_x, real_x = noise_images(120, 0), noise_images(150, 1)
    results = []
    for batch_size in (1, 17, 150):
        real = extract_features(real_x, random_extractor, batch_size=batch_size)
        fake = extract_features(fake_x, random_extractor, batch_size=batch_size)
        results.append(compute_metrics(fake, real, kid_subsets=10, kid_subset_size=100))
    for other in results[1:]:
        for key in ("is_mean", "is_std", "fid", "kid_mean", "kid_std"):
            assert other[key] == pytest.approx(results[0][key], rel=1e-4, abs=1e-7), key
        for key in ("precision", "recall"):  # a count: at most one image may flip on float rounding
            assert abs(other[key] - results[0][key]) <= 1 / 120 + 1e-9, key


def test_features_file_round_trip_and_reference_cache(tmp_path: Path, random_extractor: Extractor,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "tiny"
    root.mkdir()
    images = noise_images(40, 5)
    summary = write_content(ImageData({"test": ImageSplit(images, np.arange(40) % 10)}, [str(i) for i in range(10)]),
                            root)
    (root / INFO_FILE).write_text(json.dumps({"name": "tiny", **summary}))
    cache = tmp_path / "cache"
    first = reference_features(root, "test", random_extractor, n=30, seed=1, cache_dir=cache, progress=False)
    assert len(first) == 30 and first.protocol["subset"] == {"n": 30, "seed": 1}
    assert first.protocol["dataset"] == "tiny" and first.protocol["split"] == "test"
    (written,) = cache.iterdir()
    again = load_features(written)
    assert again.protocol == json.loads(json.dumps(first.protocol))
    assert all(np.array_equal(again.arrays[k], first.arrays[k]) for k in first.arrays)

    def no_extraction(*args: object, **kwargs: object) -> None:
        raise AssertionError("extracted again although the cache holds these features")

    monkeypatch.setattr(metrics, "extract_features", no_extraction)
    cached = reference_features(root, "test", random_extractor, n=30, seed=1, cache_dir=cache, progress=False)
    assert np.array_equal(cached.arrays["features"], first.arrays["features"])
    monkeypatch.undo()
    (root / INFO_FILE).write_text(json.dumps({"name": "tiny", **summary, "note": "another data version"}))
    reference_features(root, "test", random_extractor, n=30, seed=1, cache_dir=cache, progress=False)
    assert len(list(cache.iterdir())) == 2
    save_features(first, tmp_path / "f.npz")
    (tmp_path / "bad.npz").write_bytes(b"nope")
    with pytest.raises(GanlabError, match="bad.npz: not a features file"):
        load_features(tmp_path / "bad.npz")


# --------------------------------------------------------------------------- real digits


@pytest.fixture(scope="module")
def mnist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    if DATA_ROOT and Path(DATA_ROOT, "mnist", INFO_FILE).is_file():
        root = Path(DATA_ROOT, "mnist")
    else:  # fetched from the mirror once for the module (the function-scoped isolated_env hides it from tests)
        from ganlab.data.fetch import fetch_dataset

        root = tmp_path_factory.mktemp("mirror") / "mnist"
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("GANLAB_DATA_MIRROR", MIRROR)
            mp.setenv("GANLAB_CACHE_DIR", str(root.parent / "cache"))
            fetch_dataset("mnist", root, progress=False)
    return {s: (load_images(root, s)[0].images, load_images(root, s)[0].labels) for s in ("train", "test")}


@pytest.fixture(scope="module")
def digits_extractor(mnist: dict, tmp_path_factory: pytest.TempPathFactory) -> Extractor:
    """A small evaluator trained for a few seconds on 3,000 digits: enough to rank disturbances."""
    x, y = mnist["train"]
    cfg = EvaluatorConfig(width=8, features=32, epochs=2, batch_size=64, train_subset=3000, augment="none")
    test = (mnist["test"][0][:1000], mnist["test"][1][:1000])
    ev = train_evaluator(x, y, [str(i) for i in range(10)], cfg, test=test, dataset="mnist", progress=False)
    assert ev.info["test_accuracy"] > 0.85  # it did learn digits
    return get_extractor("evaluator", save_evaluator(ev, tmp_path_factory.mktemp("ev") / "mnist-tiny.pt"))


def add_noise(images: np.ndarray, sd: float) -> np.ndarray:
    noisy = images.astype(np.float64) + np.random.default_rng(0).normal(0.0, sd, images.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def blur(images: np.ndarray, sigma: float) -> torch.Tensor:
    x = as_uint8_images(images).float()
    size = 2 * math.ceil(3 * sigma) + 1
    return gaussian_blur(x, [size, size], [sigma, sigma]).round().clamp(0, 255).to(torch.uint8)


@needs_mnist
def test_fid_between_splits_is_small_next_to_a_disturbed_set(mnist: dict, digits_extractor: Extractor) -> None:
    train, test = mnist["train"][0][10_000:11_000], mnist["test"][0][:1000]
    reference = extract_features(test, digits_extractor)
    clean = fid(reference.for_metric("fid"), extract_features(train, digits_extractor).for_metric("fid"))
    noisy = fid(reference.for_metric("fid"), extract_features(add_noise(train, 32), digits_extractor).for_metric("fid"))
    assert clean < 0.1 * noisy


@needs_mnist
@pytest.mark.parametrize("disturb, strengths", [(add_noise, (0, 8, 16, 32, 64, 128)),
                                                 (blur, (0.5, 0.8, 1.2, 1.8, 2.5))], ids=["noise", "blur"])
def test_fid_rises_with_the_strength_of_a_disturbance(mnist: dict, digits_extractor: Extractor, disturb,
                                                      strengths: tuple[float, ...]) -> None:
    train, test = mnist["train"][0][10_000:11_000], mnist["test"][0][:1000]
    reference = extract_features(test, digits_extractor).for_metric("fid")
    scores = [fid(reference, extract_features(disturb(train, s), digits_extractor).for_metric("fid"))
              for s in strengths]
    assert all(a < b for a, b in zip(scores, scores[1:])), scores


@needs_mnist
def test_identical_real_sets(mnist: dict, digits_extractor: Extractor) -> None:
    real = extract_features(mnist["test"][0][:500], digits_extractor, source={"dataset": "mnist", "split": "test"})
    out = compute_metrics(real, real, kid_subsets=3, kid_subset_size=500)
    assert abs(out["fid"]) < 1e-6
    assert out["kid_mean"] == pytest.approx(kid_of_a_set_with_itself(real.for_metric("kid")), rel=1e-3)
    assert out["precision"] == 1.0 and out["recall"] == 1.0
    assert out["protocol"]["dataset"] == "mnist" and out["protocol"]["n_real"] == 500


@needs_mnist
def test_class_accuracy_of_requested_classes(mnist: dict, digits_extractor: Extractor) -> None:
    images, labels = mnist["test"][0][1000:1500], mnist["test"][1][1000:1500]
    right = class_accuracy(images, labels, digits_extractor)
    assert right["accuracy"] > 0.85 and set(right["per_class"]) == {str(i) for i in range(10)}
    assert sum(right["protocol"]["n_per_class"].values()) == 500
    wrong = class_accuracy(images, (labels + 1) % 10, digits_extractor)
    assert wrong["accuracy"] < 0.1
    with pytest.raises(GanlabError, match="0..9"):
        class_accuracy(images, labels + 10, digits_extractor)


@needs_mnist
def test_batch_size_does_not_change_metrics_on_digits(mnist: dict, digits_extractor: Extractor) -> None:
    fake_x, real_x = mnist["train"][0][20_000:20_300], mnist["test"][0][2000:2300]
    one, whole = (compute_metrics(extract_features(fake_x, digits_extractor, batch_size=b),
                                  extract_features(real_x, digits_extractor, batch_size=b), kid_subsets=10,
                                  kid_subset_size=200) for b in (1, 300))
    for key in ("is_mean", "is_std", "fid", "kid_mean", "kid_std"):
        assert one[key] == pytest.approx(whole[key], rel=1e-4, abs=1e-7), key
    for key in ("precision", "recall"):
        assert abs(one[key] - whole[key]) <= 1 / 300 + 1e-9, key
