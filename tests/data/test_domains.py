"""The two-domain dataset of the translation models: built from small datasets in the project's format."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ganlab.data.datasets import INFO_FILE, load_images, read_info, write_content
from ganlab.data.domains import build_domains
from ganlab.data.formats import ImageData, ImageSplit
from ganlab.errors import DataFormatError, ParamsError
from ganlab.files import hash_file, write_json_atomic
from ganlab.data.config import DomainsParams
from ganlab.params import load_params

ROOT = Path(__file__).resolve().parents[2]
DIGITS = ["0", "1", "2"]
ITEMS = ["Bag", "Trouser", "Coat"]


def write_source(root: Path, name: str, classes: list[str], counts: dict[str, list[int]], side: int = 28,
                 channels: int = 1, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A dataset folder as fetch writes it: ``counts[split][k]`` images of class k; pixel [0, 0] numbers
    the image within its split, so tests can find where each output image came from."""
    rng = np.random.default_rng(seed)
    splits, arrays = {}, {}
    for split, per_class in counts.items():
        labels = np.concatenate([np.full(n, k, dtype=np.int64) for k, n in enumerate(per_class)])
        labels = labels[rng.permutation(len(labels))]
        images = rng.integers(0, 256, size=(len(labels), side, side, channels), dtype=np.uint8)
        images[:, 0, 0, 0] = np.arange(len(labels))
        splits[split] = ImageSplit(images, labels)
        arrays[split] = (images, labels)
    (root / name).mkdir(parents=True)
    summary = write_content(ImageData(splits, classes), root / name)
    write_json_atomic(root / name / INFO_FILE, {"name": name, "variant": "official", "sha256": {"x": "00"}, **summary})
    return arrays


@pytest.fixture
def sources(tmp_path: Path) -> tuple[Path, dict, dict]:
    root = tmp_path / "data"
    digits = write_source(root, "mnist", DIGITS, {"train": [5, 7, 4], "test": [2, 3, 1]}, seed=1)
    items = write_source(root, "fashion-mnist", ITEMS, {"train": [6, 4, 5], "test": [3, 2, 2]}, seed=2)
    return root, digits, items


PARAMS = DomainsParams(source_a="mnist", classes_a=("0", "1"), source_b="fashion-mnist", classes_b=("Bag", "Trouser"))


def test_domains_hold_the_chosen_classes_with_labels_0_and_1_in_equal_counts(sources, tmp_path):
    root, digits, items = sources
    info = build_domains(PARAMS, root, tmp_path / "domains", seed=0)
    train, classes = load_images(tmp_path / "domains", "train")
    assert classes == ["mnist (0, 1)", "fashion-mnist (Bag, Trouser)"]
    assert np.bincount(train.labels).tolist() == [10, 10]  # min(5 + 7, 6 + 4)
    test, _ = load_images(tmp_path / "domains", "test")
    assert np.bincount(test.labels).tolist() == [5, 5]
    for split, part in (("train", train), ("test", test)):
        for label, (src, arrays, names, wanted) in enumerate(
                (("mnist", digits, DIGITS, {0, 1}), ("fashion-mnist", items, ITEMS, {0, 1}))):
            images, labels = arrays[split]
            mine = part.images[part.labels == label]
            index = mine[:, 0, 0, 0].astype(int)  # where each image came from
            assert len(set(index.tolist())) == len(index)  # without replacement
            assert np.array_equal(mine, images[index])  # the source's pixels, unchanged
            assert set(labels[index].tolist()) <= wanted
            assert list(index) == sorted(index)  # in source order
            ids = part.ids[part.labels == label]
            assert [i.split(":") for i in ids] == [[src, split, str(j), names[labels[j]]] for j in index]
    assert info == read_info(tmp_path / "domains")
    assert info["counts"] == {"train": 20, "test": 10} and info["shape"] == [28, 28, 1]


def test_all_of_the_smaller_domain_is_used_and_the_larger_one_is_subsampled_by_the_seed(sources, tmp_path):
    root, digits, items = sources
    build_domains(PARAMS, root, tmp_path / "s0", seed=0)
    build_domains(PARAMS, root, tmp_path / "s0-again", seed=0)
    build_domains(PARAMS, root, tmp_path / "s5", seed=5)
    a0, a0_again, a5 = (load_images(tmp_path / d, "train")[0] for d in ("s0", "s0-again", "s5"))
    assert np.array_equal(a0.images, a0_again.images)
    # domain B (10 bags and trousers) is taken whole; domain A (12 digits) loses 2, chosen by the seed
    assert np.array_equal(a0.images[a0.labels == 1], a5.images[a5.labels == 1])
    assert not np.array_equal(a0.images[a0.labels == 0], a5.images[a5.labels == 0])


def test_per_domain_counts_are_honoured_and_too_many_are_refused(sources, tmp_path):
    root, _, _ = sources
    params = dataclasses.replace(PARAMS, train_per_domain=4, test_per_domain=2)
    info = build_domains(params, root, tmp_path / "small")
    assert info["counts"] == {"train": 8, "test": 4} and info["per_domain"] == {"train": 4, "test": 2}
    greedy = dataclasses.replace(PARAMS, train_per_domain=11)
    with pytest.raises(ParamsError, match=r"train_per_domain = 11, but domain B \(fashion-mnist \(Bag, Trouser\)\) "
                                          r"has only 10 train images"):
        build_domains(greedy, root, tmp_path / "greedy")
    assert not (tmp_path / "greedy").exists()


def test_provenance_names_the_sources_their_dataset_json_hashes_and_the_classes(sources, tmp_path):
    root, _, _ = sources
    info = build_domains(PARAMS, root, tmp_path / "domains", seed=3)
    a, b = info["source"]["A"], info["source"]["B"]
    assert (a["dataset"], a["classes"], b["dataset"], b["classes"]) == ("mnist", ["0", "1"], "fashion-mnist",
                                                                        ["Bag", "Trouser"])
    assert a["dataset_json_sha256"] == hash_file(root / "mnist" / INFO_FILE)
    assert b["dataset_json_sha256"] == hash_file(root / "fashion-mnist" / INFO_FILE)
    assert info["domain_labels"] == {"A": 0, "B": 1} and info["seed"] == 3 and info["official"] is False


def test_missing_source_is_named_with_the_stage_that_fetches_it(sources, tmp_path):
    root, _, _ = sources
    params = dataclasses.replace(PARAMS, source_b="cifar10", classes_b=("cat",))
    with pytest.raises(DataFormatError, match=r"domain B: .*cifar10 holds no dataset.*dvc repro fetch@cifar10"):
        build_domains(params, root, tmp_path / "out")


def test_sources_of_different_shapes_are_refused(sources, tmp_path):
    root, _, _ = sources
    write_source(root, "cifar10", ["cat", "dog"], {"train": [3, 3]}, side=32, channels=3)
    params = dataclasses.replace(PARAMS, source_b="cifar10", classes_b=("cat",))
    with pytest.raises(DataFormatError, match=r"domain A \(mnist\) has images of shape \[28, 28, 1\].*"
                                              r"domain B \(cifar10\) \[32, 32, 3\]"):
        build_domains(params, root, tmp_path / "out")


def test_unknown_class_is_named_with_the_sources_classes(sources, tmp_path):
    root, _, _ = sources
    params = dataclasses.replace(PARAMS, classes_b=("Bag", "Trousers"))
    with pytest.raises(ParamsError, match=r"classes_b: fashion-mnist has no class 'Trousers' \(did you mean "
                                          r"'Trouser'\?\); its classes: Bag, Trouser, Coat"):
        build_domains(params, root, tmp_path / "out")


def test_a_failed_build_leaves_the_previous_dataset_as_it_was(sources, tmp_path):
    root, _, _ = sources
    build_domains(PARAMS, root, tmp_path / "domains")
    before = (tmp_path / "domains" / "train.npz").read_bytes()
    with pytest.raises(ParamsError):
        build_domains(dataclasses.replace(PARAMS, classes_a=("7",)), root, tmp_path / "domains")
    assert (tmp_path / "domains" / "train.npz").read_bytes() == before


@pytest.mark.parametrize(
    "section, message",
    [
        ("{classes_a: []}", r"domains: classes_a is empty"),
        ("{classes_a: ['1', '1']}", r"classes_a names '1' more than once"),
        ("{source_b: mnist, classes_b: ['1', '7']}", r"domains A and B both take class '1' of mnist"),
        ("{source_a: lfw}", r"domains\.source_a = 'lfw' is not an image dataset; choose one of: cifar10, faces"),
        ("{classes_b: [1]}", r"domains\.classes_b\[0\] = 1 \(int\) must be a string"),
        ("{train_per_domain: -1}", r"domains\.train_per_domain = -1 is out of range"),
        ("{clases_a: ['0']}", r"unknown key 'domains\.clases_a' \(did you mean 'classes_a'\?\)"),
    ],
)
def test_bad_domains_params_are_named(tmp_path, section, message):
    path = tmp_path / "params.yaml"
    path.write_text(f"domains: {section}\n")
    with pytest.raises(ParamsError, match=message):
        load_params(path)


def test_default_pair_is_digits_against_clothes_of_mnist_shape():
    p = load_params(ROOT / "params.yaml").domains
    assert (p.source_a, p.source_b) == ("mnist", "fashion-mnist") and p.classes_a and p.classes_b


def test_stage_writes_the_dataset_and_stops_on_bad_params(sources, tmp_path):
    root, _, _ = sources
    params = tmp_path / "params.yaml"
    params.write_text("seed: 2\ndomains:\n  classes_a: ['0', '2']\n  classes_b: [Coat]\n")
    cmd = [sys.executable, str(ROOT / "stages" / "domains.py"), "--data-root", str(root), "--out",
           str(tmp_path / "domains"), "--params", str(params)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    info = json.loads((tmp_path / "domains" / INFO_FILE).read_text())
    assert info["classes"] == ["mnist (0, 2)", "fashion-mnist (Coat)"] and info["seed"] == 2
    assert info["counts"] == {"train": 10, "test": 4}  # min(5 + 4, 5) and min(2 + 1, 2) per domain
    params.write_text("domains:\n  classes_b: [Jacket]\n")
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2 and "fashion-mnist has no class 'Jacket'" in proc.stderr
