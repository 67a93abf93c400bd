"""De-duplication quality at the default params on real LFW face crops (a sample; needs the mirror).

The full measurement over thresholds is benchmarks/dedup_quality.py; this is the same protocol on
fewer photos, so a change that breaks recall or starts merging different people fails here.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from ganlab.data.dedup import PairChecker
from ganlab.data.dedup_quality import TRANSFORMS, build_quality_set, evaluate, near_duplicate, primary_crops
from ganlab.data.config import DedupParams, FacesParams

MIRROR = os.environ.get("GANLAB_DATA_MIRROR")


def test_near_duplicates_change_the_picture_but_not_its_size_much():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (64, 64, 1), dtype=np.uint8)
    for kind in TRANSFORMS:
        dup = near_duplicate(img, kind, rng)
        assert dup.dtype == np.uint8 and dup.shape[-1] == 1
        assert 51 <= dup.shape[0] <= 80
        assert not np.array_equal(dup, img)


@pytest.mark.mirror
@pytest.mark.skipif(not MIRROR or not Path(MIRROR, "lfw-gray-subset.tar.gz").is_file(), reason="needs the mirror's LFW")
def test_defaults_find_injected_duplicates_and_keep_people_apart(tmp_path):
    import tarfile

    from ganlab.data.faces import crop_faces

    photos = tmp_path / "photos"
    with tarfile.open(Path(MIRROR, "lfw-gray-subset.tar.gz")) as tf:
        members = [m for m in tf if m.isfile()][:1200]
        for m in members:
            dest = photos / m.name.split("/", 1)[1]
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(tf.extractfile(m).read())
    crop_faces(photos, tmp_path / "crops", FacesParams(test_fraction=0.0), progress=False)

    images, labels = primary_crops(tmp_path / "crops")
    qs = build_quality_set(images, labels, 300, seed=0)
    config = DedupParams()
    checker = PairChecker(qs.images, config)
    pairs, _ = checker.pairs()
    q = evaluate(qs, checker, config, pairs)
    print(f"recall {q.recall:.3f} precision {q.precision:.3f} false merges {q.false_merge_rate:.4f} by kind {q.recall_by_kind}")
    assert q.recall >= 0.95
    assert q.false_merge_rate <= 0.01
    assert q.precision >= 0.98
    assert q.recall_by_kind["jpeg"] == 1.0 and q.recall_by_kind["brightness"] == 1.0
