"""The local dataset mirror (GANLAB_DATA_MIRROR): every dataset loads with its published counts.

Skipped unless GANLAB_DATA_MIRROR names the mirror folder (CI sets it when ../shared/datasets exists).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from ganlab.data.datasets import load_images, load_photos, load_text, read_info
from ganlab.data.fetch import fetch_dataset

MIRROR = os.environ.get("GANLAB_DATA_MIRROR")
pytestmark = [
    pytest.mark.mirror,
    pytest.mark.skipif(not MIRROR or not Path(MIRROR).is_dir(), reason="GANLAB_DATA_MIRROR is not set to a folder"),
]


@pytest.fixture(scope="module")
def fetched(tmp_path_factory) -> Path:
    # Fetched once for the module; the function-scoped isolated_env hides the mirror from tests.
    root = tmp_path_factory.mktemp("mirror-datasets")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANLAB_DATA_MIRROR", MIRROR)
        mp.setenv("GANLAB_CACHE_DIR", str(root / "cache"))
        for name in ("mnist", "fashion-mnist", "cifar10", "lfw", "coco-captions"):
            fetch_dataset(name, root / name, progress=False)
    return root


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_idx_datasets(fetched, name):
    info = read_info(fetched / name)
    assert info["variant"] == "official" and info["counts"] == {"train": 60000, "test": 10000}
    train, classes = load_images(fetched / name, "train")
    assert train.images.shape == (60000, 28, 28, 1) and train.images.dtype == np.uint8
    assert len(classes) == 10 and sum(info["class_counts"]["test"].values()) == 10000
    assert all(f["origin"] == "mirror" for f in info["source"]["files"])


def test_cifar10_is_the_jpeg_copy(fetched):
    info = read_info(fetched / "cifar10")
    assert info["variant"] == "jpeg-q75" and info["official"] is False
    train, classes = load_images(fetched / "cifar10", "train")
    test, _ = load_images(fetched / "cifar10", "test")
    assert train.images.shape == (50000, 32, 32, 3) and test.images.shape == (10000, 32, 32, 3)
    assert classes == ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    assert np.bincount(train.labels).tolist() == [5000] * 10
    assert np.bincount(test.labels).tolist() == [1000] * 10
    assert set(info["class_counts"]["train"].values()) == {5000}


def test_lfw_subset(fetched):
    info = read_info(fetched / "lfw")
    photos = load_photos(fetched / "lfw")
    assert info["variant"] == "gray-subset"
    assert len(photos) == 3823 and len(photos.class_names) == 1719
    assert photos.open(0).size == (250, 250)


def test_coco_captions(fetched):
    info = read_info(fetched / "coco-captions")
    train, test = load_text(fetched / "coco-captions", "train"), load_text(fetched / "coco-captions", "test")
    assert len(train) == 10000 and len(test) == 10000
    assert info["counts"] == {"train": 10000, "test": 10000}
    assert all(line == line.lower() for line in train[:100])
