"""De-duplication: the multi-index search, clustering, the keeper rule, leakage, and the CLI."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import cv2
import imagehash
import numpy as np
import pytest
from helpers import png_claiming
from PIL import Image
from typer.testing import CliRunner

from ganlab.cli import app
from ganlab.data.dedup import (
    ImageSet, PairChecker, choose_keepers, clusters_from_pairs, hash_images, leaked, phash_bits, run_dedup,
)
from ganlab.data.hashindex import all_pairs_baseline, estimated_seconds, near_pairs, near_pairs_between, plan
from ganlab.data.config import DedupParams
from ganlab.errors import DataFormatError


def random_hashes(rng, n: int, words: int = 1) -> np.ndarray:
    hi = rng.integers(0, 2**32, size=(n, words), dtype=np.uint64)
    lo = rng.integers(0, 2**32, size=(n, words), dtype=np.uint64)
    return (hi << np.uint64(32)) | lo


def with_near_copies(rng, h: np.ndarray, k: int, max_flips: int) -> np.ndarray:
    """Append k copies of random rows with 0..max_flips random bits flipped."""
    nbits = 64 * h.shape[1]
    copies = h[rng.integers(0, len(h), k)].copy()
    for row in copies:
        for bit in rng.choice(nbits, size=rng.integers(0, max_flips + 1), replace=False):
            row[bit // 64] ^= np.uint64(1) << np.uint64(bit % 64)
    return np.concatenate([h, copies])


@pytest.mark.parametrize("threshold", [0, 3, 8, 12, 20])
@pytest.mark.parametrize("words", [1, 4])
def test_index_finds_exactly_the_all_pairs_answer(threshold, words):
    rng = np.random.default_rng(threshold * 10 + words)
    h = with_near_copies(rng, random_hashes(rng, 3000, words), 300, max_flips=threshold + 3)
    got = {tuple(p) for p in near_pairs(h, threshold, method="index").tolist()}
    want = {tuple(p) for p in all_pairs_baseline(h, threshold).tolist()}
    assert got == want
    assert len(want) > 0 or threshold == 0  # the injected copies make the test meaningful


def test_plan_uses_several_chunks_for_large_sets():
    m, r = plan(1_000_000, 64, 8)
    assert m >= 3 and r == 8 // m


def test_auto_picks_the_index_for_large_sets_and_the_scan_for_wide_radii():
    index_s, scan_s = estimated_seconds(1_000_000, 64, 8)
    assert index_s < scan_s / 10
    index_s, scan_s = estimated_seconds(5_000, 64, 16)
    assert scan_s < index_s
    rng = np.random.default_rng(1)
    h = with_near_copies(rng, random_hashes(rng, 2000), 200, max_flips=10)
    assert np.array_equal(near_pairs(h, 10), near_pairs(h, 10, method="index"))


def test_pairs_between_two_sets():
    rng = np.random.default_rng(3)
    a = random_hashes(rng, 500)
    b = np.concatenate([random_hashes(rng, 500), a[:5] ^ np.uint64(0b1011)])
    pairs = near_pairs_between(a, b, 4)
    assert sorted(map(tuple, pairs[:, :2].tolist())) == [(i, 500 + i) for i in range(5)]


def test_union_find_clusters_and_keeper_rule():
    pairs = np.array([[0, 1, 2], [1, 2, 3], [4, 5, 1]])
    clusters = clusters_from_pairs(7, pairs)
    assert clusters == [[0, 1, 2], [4, 5]]
    size = np.array([10.0, 30, 30, 5, 8, 8, 1])
    sharp = np.array([1.0, 2, 9, 1, 5, 3, 1])
    assert choose_keepers(clusters, size, sharp) == [2, 4]  # largest source, then sharpest


# --------------------------------------------------------------------------- on images


def synthetic_photo(seed: int, size: int = 96) -> np.ndarray:
    """A structured 'photo': smooth blobs and edges, so perceptual hashes mean something."""
    rng = np.random.default_rng(seed)
    img = np.zeros((size, size, 3), np.float32)
    for _ in range(12):
        c = tuple(int(v) for v in rng.integers(0, size, 2))
        cv2.circle(img, c, int(rng.integers(5, size // 3)), tuple(float(v) for v in rng.uniform(0, 255, 3)), -1)
    for _ in range(4):
        p1, p2 = (tuple(int(v) for v in rng.integers(0, size, 2)) for _ in range(2))
        cv2.line(img, p1, p2, tuple(float(v) for v in rng.uniform(0, 255, 3)), 3)
    return cv2.GaussianBlur(img, (5, 5), 1.5).astype(np.uint8)


def jpeg(img: np.ndarray, quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def test_photo_its_reencode_and_resize_cluster_and_an_unrelated_photo_stays_alone(tmp_path):
    photo = synthetic_photo(1, 120)
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a_original.png").write_bytes(cv2.imencode(".png", photo[..., ::-1])[1].tobytes())
    (folder / "b_reencoded.jpg").write_bytes(jpeg(photo, 55))
    small = cv2.resize(photo, (108, 108), interpolation=cv2.INTER_AREA)  # 0.9x
    (folder / "c_resized.png").write_bytes(cv2.imencode(".png", small[..., ::-1])[1].tobytes())
    (folder / "d_unrelated.png").write_bytes(cv2.imencode(".png", synthetic_photo(2, 120)[..., ::-1])[1].tobytes())

    report = run_dedup(folder, tmp_path / "out", DedupParams(), progress=False)
    [cluster] = report["clusters"]
    assert sorted(cluster) == ["a_original.png", "b_reencoded.jpg", "c_resized.png"]
    assert cluster[0] != "c_resized.png"  # the keeper comes from the largest source
    assert report["n_in"] == 4 and report["n_out"] == 2
    kept = json.loads((tmp_path / "out" / "dataset.json").read_text())
    assert kept["counts"] == {"all": 2}
    assert (tmp_path / "out" / "gallery.png").exists()


def test_rejected_files_are_listed_not_fatal(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "ok.png").write_bytes(cv2.imencode(".png", synthetic_photo(5))[1].tobytes())
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.jpg").write_bytes(b"shopping list: eggs\n")
    (folder / "bomb.png").write_bytes(png_claiming(50_000, 50_000))  # decoded, it would take 2.5 GB
    report = run_dedup(folder, tmp_path / "out", DedupParams(), progress=False)
    reasons = {r["source"]: r["reason"] for r in report["rejected"]}
    assert reasons == {"empty.jpg": "unreadable", "notes.jpg": "not-an-image", "bomb.png": "too-large"}
    assert report["n_out"] == 1
    assert json.loads((tmp_path / "out" / "dedup.json").read_text())["rejected"] == report["rejected"]


def test_a_dataset_or_folder_without_images_is_an_error_naming_it(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "dataset.json").write_text(json.dumps({"name": "empty", "kind": "images", "files": {}, "counts": {}}))
    with pytest.raises(DataFormatError, match=r"empty: an image dataset with no splits \(counts \{\}\); no images to de-duplicate"):
        run_dedup(empty, tmp_path / "out", DedupParams(), progress=False)
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.txt").write_bytes(b"eggs\n")
    with pytest.raises(DataFormatError, match=r"notes: no readable images \(1 files rejected: a\.txt: no image format recognises its first bytes b'eggs"):
        run_dedup(notes, tmp_path / "out", DedupParams(), progress=False)
    (notes / "b.png").write_bytes(cv2.imencode(".png", synthetic_photo(5))[1].tobytes())
    no_eval = tmp_path / "no-eval"
    no_eval.mkdir()
    with pytest.raises(DataFormatError, match=r"no-eval: no readable images to check leakage against \(0 files rejected\)"):
        run_dedup(notes, tmp_path / "out", DedupParams(), eval_source=no_eval, progress=False)
    assert not (tmp_path / "out").exists()


def test_leakage_counts_train_images_with_a_near_duplicate_in_eval():
    train_imgs = [synthetic_photo(s, 64) for s in range(10, 30)]
    eval_imgs = [synthetic_photo(s, 64) for s in range(40, 50)]
    eval_imgs[3] = cv2.convertScaleAbs(train_imgs[7], alpha=1.05, beta=5)  # a leaked copy

    def image_set(imgs):
        return ImageSet([str(i) for i in range(len(imgs))], imgs, [""] * len(imgs), np.full(len(imgs), 64.0))

    mask = leaked(image_set(train_imgs), image_set(eval_imgs), DedupParams())
    assert np.flatnonzero(mask).tolist() == [7]


def test_confirm_check_rejects_pairs_that_only_the_hash_thinks_alike():
    a = synthetic_photo(7, 64)
    b = np.ascontiguousarray(np.rot90(a, 2))  # different picture; force the hash stage to accept
    ch = PairChecker([a, b], DedupParams(threshold=64))
    pairs = np.array([[0, 1, 0]])
    assert not ch.confirmed(pairs)[0]
    ch2 = PairChecker([a, cv2.convertScaleAbs(a, alpha=0.95, beta=8)], DedupParams())
    assert ch2.confirmed(pairs)[0]


def test_hash_words_hold_all_bits():
    imgs = [synthetic_photo(s, 64) for s in range(3)]
    h8 = hash_images(imgs, "phash", 8)
    h16 = hash_images(imgs, "dhash", 16)
    assert h8.shape == (3, 1) and h16.shape == (3, 4)
    assert len({int(x) for x in h8[:, 0]}) == 3


@pytest.mark.parametrize("hash_size", [4, 8, 16])
def test_batched_phash_equals_imagehash_bit_for_bit(hash_size):
    """hash_images' phash (DCTs and medians over blocks of images) against imagehash.phash, one image at a time,
    on grey and colour images of several sizes, a flat image (every coefficient but one equal) and a block
    boundary."""
    rng = np.random.default_rng(hash_size)
    imgs = [synthetic_photo(s, 64) for s in range(4)] + [synthetic_photo(9, 40)[..., :1]]
    imgs += [rng.integers(0, 256, (28, 28, 1), dtype=np.uint8) for _ in range(6)]
    imgs += [np.full((32, 32, 3), 77, np.uint8), rng.integers(0, 256, (17, 23, 3), dtype=np.uint8)]
    words = -(-hash_size * hash_size // 64)
    expected = np.zeros((len(imgs), words * 8), np.uint8)
    for i, img in enumerate(imgs):
        bits = imagehash.phash(Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img), hash_size=hash_size)
        packed = np.packbits(bits.hash.ravel(), bitorder="little")
        expected[i, : len(packed)] = packed
    assert np.array_equal(hash_images(imgs, "phash", hash_size), expected.view("<u8"))
    assert np.array_equal(phash_bits(imgs, hash_size, block=3),
                          np.unpackbits(expected, axis=1, bitorder="little")[:, : hash_size * hash_size])


def test_cli_dedup(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    for s in range(3):
        (folder / f"{s}.png").write_bytes(cv2.imencode(".png", synthetic_photo(s))[1].tobytes())
    (folder / "copy.jpg").write_bytes(jpeg(synthetic_photo(0)[..., ::-1], 60))
    result = CliRunner().invoke(app, ["dedup", str(folder), "--out", str(tmp_path / "o"), "--threshold", "12"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "o" / "dedup.json").read_text())
    assert report["threshold"] == 12 and report["n_out"] == 3


def test_cli_rejects_a_bad_hash_name(tmp_path, caplog):
    result = CliRunner().invoke(app, ["dedup", str(tmp_path), "--out", str(tmp_path / "o"), "--hash", "md5"])
    assert result.exit_code == 2
    assert "hash = 'md5' is not allowed; choose one of: phash, dhash, whash, ahash" in caplog.text


MIRROR = os.environ.get("GANLAB_DATA_MIRROR")  # read at import: the isolated_env fixture hides it


@pytest.mark.mirror
@pytest.mark.skipif(not MIRROR or not Path(MIRROR, "lfw-gray-subset.tar.gz").is_file(), reason="needs the mirror's LFW")
def test_real_photo_reencode_and_resize_cluster_apart_from_other_photos(tmp_path):
    import tarfile

    with tarfile.open(Path(MIRROR, "lfw-gray-subset.tar.gz")) as tf:
        jpgs = [m for m in tf if m.isfile()][:40]
        photos = {m.name: tf.extractfile(m).read() for m in jpgs}
    names = sorted(photos)
    same_person = [n for n in names if n.split("/")[1] == names[0].split("/")[1]]
    other = next(n for n in names if n.split("/")[1] != names[0].split("/")[1])
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "photo.jpg").write_bytes(photos[names[0]])
    img = np.asarray(Image.open(io.BytesIO(photos[names[0]])))
    (folder / "reencoded.jpg").write_bytes(jpeg(img, 50))
    small = Image.fromarray(img).resize((225, 225), Image.LANCZOS)
    small.save(folder / "resized.png")
    (folder / "unrelated.jpg").write_bytes(photos[other])
    if len(same_person) > 1:  # another photo of the same person is not a duplicate either
        (folder / "same_person.jpg").write_bytes(photos[same_person[1]])

    report = run_dedup(folder, tmp_path / "out", DedupParams(), progress=False)
    assert [sorted(c) for c in report["clusters"]] == [["photo.jpg", "reencoded.jpg", "resized.png"]]
