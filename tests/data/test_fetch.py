"""Fetch every official format from a real HTTP server on 127.0.0.1, through the real code path."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from helpers import (
    image_bytes, make_tiny_cifar_tarball, make_tiny_mnist, png_claiming, serve_variant, sha256, tar_gz, zip_bytes,
)

from ganlab.data import archives, sources
from ganlab.data.datasets import load_images, load_photos, load_text, read_info
from ganlab.data.fetch import fetch_dataset, fetch_local
from ganlab.errors import ChecksumError, DataFormatError, FetchError, UnsafeArchiveError


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def test_mnist_idx_over_http(file_server, monkeypatch, rng, tmp_path):
    tiny = make_tiny_mnist(rng)
    serve_variant(file_server, "mnist", "official", tiny.files, monkeypatch)
    info = fetch_dataset("mnist", tmp_path / "out", progress=False)

    for split, (images, labels) in tiny.arrays.items():
        data, classes = load_images(tmp_path / "out", split)
        assert data.images.shape == (len(images), 28, 28, 1) and data.images.dtype == np.uint8
        np.testing.assert_array_equal(data.images[..., 0], images)
        np.testing.assert_array_equal(data.labels, labels)
        assert classes == [str(d) for d in range(10)]
    assert info["variant"] == "official" and info["counts"] == {"train": 12, "test": 5}
    assert info["shape"] == [28, 28, 1]
    assert info["sha256"]["train-images-idx3-ubyte.gz"] == sha256(tiny.files["train-images-idx3-ubyte.gz"])
    assert sum(info["class_counts"]["train"].values()) == 12
    assert all(f["origin"] == "network" for f in info["source"]["files"])
    assert read_info(tmp_path / "out") == info
    # a second fetch is served from the download cache: no new requests
    n = len(file_server.requests)
    assert fetch_dataset("mnist", tmp_path / "again", progress=False)["source"]["files"][0]["origin"] == "cache"
    assert len(file_server.requests) == n


def test_cifar10_python_tarball_over_http(file_server, monkeypatch, rng, tmp_path):
    tarball, batches = make_tiny_cifar_tarball(rng)
    serve_variant(file_server, "cifar10", "official", {"cifar-10-python.tar.gz": tarball}, monkeypatch)
    info = fetch_dataset("cifar10", tmp_path / "c", variant="official", progress=False)

    train, classes = load_images(tmp_path / "c", "train")
    assert train.images.shape == (20, 32, 32, 3)
    assert classes[0] == "airplane" and classes[9] == "truck"
    # row 0 of batch 1: the first 1024 bytes are the red plane, row-major
    first = batches["data_batch_1"][0][0]
    np.testing.assert_array_equal(train.images[0, :, :, 0], first[:1024].reshape(32, 32))
    np.testing.assert_array_equal(train.images[0, :, :, 2], first[2048:].reshape(32, 32))
    test, _ = load_images(tmp_path / "c", "test")
    np.testing.assert_array_equal(test.labels, batches["test_batch"][1])
    assert info["variant"] == "official" and info["official"] is True


def test_cifar_pickle_that_runs_code_is_refused(file_server, monkeypatch, rng, tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    import pickle

    members = {f"cifar-10-batches-py/data_batch_{i}": pickle.dumps({b"data": Evil()}) for i in range(1, 6)}
    serve_variant(file_server, "cifar10", "official", {"cifar-10-python.tar.gz": tar_gz(members)}, monkeypatch)
    with pytest.raises(DataFormatError, match="refusing to load builtins.print"):
        fetch_dataset("cifar10", tmp_path / "c", variant="official", progress=False)
    assert not (tmp_path / "c").exists()


def _faces_tree(rng, people: dict[str, int], size=(40, 30)) -> dict[str, bytes]:
    files = {}
    for person, n in people.items():
        for i in range(1, n + 1):
            arr = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
            files[f"lfw/{person}/{person}_{i:04d}.jpg"] = image_bytes(arr, "JPEG")
    return files


def test_lfw_tgz_over_http(file_server, monkeypatch, rng, tmp_path):
    tree = _faces_tree(rng, {"Ada_Lovelace": 2, "Alan_Turing": 1, "Grace_Hopper": 3})
    serve_variant(file_server, "lfw", "official", {"lfw.tgz": tar_gz(tree)}, monkeypatch)
    info = fetch_dataset("lfw", tmp_path / "lfw", progress=False)

    photos = load_photos(tmp_path / "lfw")
    assert len(photos) == 6 and photos.class_names == ["Ada_Lovelace", "Alan_Turing", "Grace_Hopper"]
    assert photos.paths[0] == "Ada_Lovelace/Ada_Lovelace_0001.jpg"
    assert photos.blob(0) == tree["lfw/Ada_Lovelace/Ada_Lovelace_0001.jpg"]  # original bytes kept
    assert photos.open(5).size == (40, 30)
    assert info["kind"] == "photos" and info["class_counts"]["all"]["Grace_Hopper"] == 3


def test_text_lines_over_http(file_server, monkeypatch, tmp_path):
    train = b"a man riding a horse .\na cat on a mat .\n"
    test = b"a dog .\n\n"
    serve_variant(file_server, "coco-captions", "official",
                  {"image_coco_train.txt": train, "image_coco_test.txt": test}, monkeypatch)
    info = fetch_dataset("coco-captions", tmp_path / "t", progress=False)
    assert load_text(tmp_path / "t", "train") == ["a man riding a horse .", "a cat on a mat ."]
    assert load_text(tmp_path / "t", "test") == ["a dog ."]  # trailing empty line dropped
    assert info["counts"] == {"train": 2, "test": 1} and info["words"]["train"] == 12


def _image_folder(rng, splits=("train", "test"), classes=("cat", "dog"), n=3, fmt="PNG") -> tuple[dict[str, bytes], dict]:
    files, arrays = {}, {}
    for split in splits:
        for c in classes:
            for i in range(n):
                # smooth (a colour plus a ramp) so that JPEG copies stay close to the original
                ramp = np.arange(8, dtype=np.uint8)[None, :, None] * 4
                arr = (rng.integers(0, 200, size=(1, 1, 3)) + ramp).astype(np.uint8).repeat(8, axis=0)
                files[f"mydata/{split}/{c}/{i:04d}.{fmt.lower()}"] = image_bytes(arr, fmt)
                arrays[(split, c, i)] = arr
    return files, arrays


@pytest.mark.parametrize("kind", ["tar.gz", "zip", "folder"])
def test_image_folder_from_archive_or_folder(kind, rng, tmp_path):
    files, arrays = _image_folder(rng)
    files["mydata/README.txt"] = b"not an image"
    if kind == "tar.gz":
        src = tmp_path / "mydata.tar.gz"
        src.write_bytes(tar_gz(files))
    elif kind == "zip":
        src = tmp_path / "mydata.zip"
        with zipfile.ZipFile(src, "w") as zf:
            for name, data in files.items():
                zf.writestr(name, data)
    else:
        src = tmp_path / "tree"
        for name, data in files.items():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            (src / name).write_bytes(data)
    info = fetch_local(src, "mydata", tmp_path / "out")
    train, classes = load_images(tmp_path / "out", "train")
    assert classes == ["cat", "dog"] and train.images.shape == (6, 8, 8, 3)
    np.testing.assert_array_equal(train.images[3], arrays[("train", "dog", 0)])  # PNG: lossless
    np.testing.assert_array_equal(train.labels, [0, 0, 0, 1, 1, 1])
    assert info["variant"] == "local" and info["counts"] == {"train": 6, "test": 6}


def test_jpeg_q75_variant_from_mirror(rng, tmp_path, monkeypatch):
    files, arrays = _image_folder(rng, classes=("airplane", "truck"), fmt="JPEG")
    tree = {name.removeprefix("mydata/"): data for name, data in files.items()}
    archive = tar_gz(tree)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "cifar10-jpeg-q75.tar.gz").write_bytes(archive)
    spec = sources.DATASETS["cifar10"]
    var = spec.variant("jpeg-q75")
    f = var.files[0]
    patched = sources.Variant(var.name, var.description, (sources.SourceFile(f.name, f.mirror_path, sources.Checksum("sha256", sha256(archive))),), var.reader, var.official)
    monkeypatch.setitem(sources.DATASETS, "cifar10", sources.DatasetSpec(spec.name, spec.kind, spec.description, spec.homepage, (spec.variants[0], patched)))
    monkeypatch.setenv("GANLAB_DATA_MIRROR", str(mirror))

    info = fetch_dataset("cifar10", tmp_path / "c", progress=False)
    assert info["variant"] == "jpeg-q75" and info["official"] is False
    assert info["source"]["files"][0]["origin"] == "mirror"
    train, _ = load_images(tmp_path / "c", "train")
    assert train.images.shape == (6, 8, 8, 3)
    assert np.abs(train.images[0].astype(int) - arrays[("train", "airplane", 0)]).mean() < 8  # lossy but close


def test_photo_folder_with_loose_photos(rng, tmp_path):
    src = tmp_path / "photos"
    src.mkdir()
    for i, size in enumerate([(50, 40), (64, 64)]):
        (src / f"IMG_{i}.jpg").write_bytes(image_bytes(rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8), "JPEG"))
    info = fetch_local(src, "holiday", tmp_path / "out")
    assert info["kind"] == "photos" and info["counts"] == {"all": 2}
    assert load_photos(tmp_path / "out").open(0).size == (50, 40)


# --------------------------------------------------------------------------- mirror


def test_mirror_is_used_instead_of_network(rng, tmp_path, monkeypatch, closed_port_url, file_server):
    tiny = make_tiny_mnist(rng)
    serve_variant(file_server, "mnist", "official", tiny.files, monkeypatch)
    mirror = tmp_path / "mirror" / "mnist"
    mirror.mkdir(parents=True)
    for name, data in tiny.files.items():
        # re-compressed at another level: the bytes differ from the served ones, the data do not
        (mirror / name).write_bytes(gzip.compress(gzip.decompress(data), compresslevel=1))
    monkeypatch.setenv("GANLAB_DATA_MIRROR", str(tmp_path / "mirror"))

    info = fetch_dataset("mnist", tmp_path / "out", progress=False)
    assert file_server.requests == []
    assert {f["origin"] for f in info["source"]["files"]} == {"mirror"}
    assert info["source"]["files"][0]["mirror_path"].startswith("mnist/")
    np.testing.assert_array_equal(load_images(tmp_path / "out", "test")[0].labels, tiny.arrays["test"][1])


def _mnist_mirror(rng, tmp_path, monkeypatch, file_server) -> tuple[Path, dict[str, bytes]]:
    """A mirror folder holding tiny MNIST files that the (patched) registry's checksums accept."""
    tiny = make_tiny_mnist(rng)
    serve_variant(file_server, "mnist", "official", tiny.files, monkeypatch)
    mirror = tmp_path / "mirror" / "mnist"
    mirror.mkdir(parents=True)
    for name, data in tiny.files.items():
        (mirror / name).write_bytes(data)
    monkeypatch.setenv("GANLAB_DATA_MIRROR", str(tmp_path / "mirror"))
    return mirror, tiny.files


def test_mirror_file_with_wrong_checksum_is_an_error(rng, tmp_path, monkeypatch, file_server):
    mirror, _ = _mnist_mirror(rng, tmp_path, monkeypatch, file_server)
    bad = make_tiny_mnist(np.random.default_rng(1))
    (mirror / "t10k-labels-idx1-ubyte.gz").write_bytes(bad.files["t10k-labels-idx1-ubyte.gz"])

    with pytest.raises(ChecksumError, match=r"t10k-labels-idx1-ubyte\.gz.*checksum mismatch"):
        fetch_dataset("mnist", tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
    assert (mirror / "t10k-labels-idx1-ubyte.gz").exists()  # a mirror file is never deleted


def test_truncated_gzip_in_mirror_is_an_error(rng, tmp_path, monkeypatch, file_server):
    mirror, files = _mnist_mirror(rng, tmp_path, monkeypatch, file_server)
    cut = files["train-images-idx3-ubyte.gz"]
    (mirror / "train-images-idx3-ubyte.gz").write_bytes(cut[: len(cut) // 2])

    with pytest.raises(ChecksumError, match=r"train-images-idx3-ubyte\.gz: truncated or corrupt gzip"):
        fetch_dataset("mnist", tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_mirror_only_variant_without_mirror_names_the_variable(tmp_path):
    with pytest.raises(FetchError, match=r"GANLAB_DATA_MIRROR is not set.*cifar10-jpeg-q75\.tar\.gz"):
        fetch_dataset("cifar10", tmp_path / "c", variant="jpeg-q75", progress=False)


def test_missing_mirror_folder_falls_back_to_network_with_a_warning(rng, tmp_path, monkeypatch, file_server, caplog):
    tiny = make_tiny_mnist(rng)
    serve_variant(file_server, "mnist", "official", tiny.files, monkeypatch)
    monkeypatch.setenv("GANLAB_DATA_MIRROR", str(tmp_path / "no-such-mirror"))
    info = fetch_dataset("mnist", tmp_path / "out", progress=False)
    assert info["source"]["files"][0]["origin"] == "network"
    assert "is not a folder" in caplog.text


# --------------------------------------------------------------------------- network failures


def test_wrong_checksum_from_network_leaves_nothing(rng, tmp_path, monkeypatch, file_server):
    tiny = make_tiny_mnist(rng)
    serve_variant(file_server, "mnist", "official", tiny.files, monkeypatch)
    other = make_tiny_mnist(np.random.default_rng(7))
    file_server.files["mnist/train-labels-idx1-ubyte.gz"] = other.files["train-labels-idx1-ubyte.gz"]

    url = file_server.url("mnist/train-labels-idx1-ubyte.gz")
    with pytest.raises(ChecksumError, match=f"downloaded from {re.escape(url)}.*checksum mismatch"):
        fetch_dataset("mnist", tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
    cache = tmp_path / "cache" / "mnist"
    assert not (cache / "train-labels-idx1-ubyte.gz").exists()
    assert not list(cache.glob("*.part"))


def test_dropped_connection_resumes_with_a_range_request(rng, tmp_path, monkeypatch, file_server):
    tiny = make_tiny_mnist(rng, n_train=200)
    serve_variant(file_server, "mnist", "official", tiny.files, monkeypatch)
    name = "mnist/train-images-idx3-ubyte.gz"
    size = len(tiny.files["train-images-idx3-ubyte.gz"])
    file_server.cut_after[name] = size // 3
    fetch_dataset("mnist", tmp_path / "out", progress=False)

    hits = [r for r in file_server.requests if r["path"] == name]
    assert [r["range"] for r in hits] == [None, f"bytes={size // 3}-"]
    np.testing.assert_array_equal(load_images(tmp_path / "out", "train")[0].images[..., 0], tiny.arrays["train"][0])


def test_partial_file_from_an_interrupted_run_is_resumed(rng, tmp_path, monkeypatch, file_server):
    tiny = make_tiny_mnist(rng)
    serve_variant(file_server, "mnist", "official", tiny.files, monkeypatch)
    data = tiny.files["t10k-images-idx3-ubyte.gz"]
    part = tmp_path / "cache" / "mnist" / "t10k-images-idx3-ubyte.gz.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(data[:100])

    fetch_dataset("mnist", tmp_path / "out", progress=False)
    hits = [r for r in file_server.requests if r["path"] == "mnist/t10k-images-idx3-ubyte.gz"]
    assert [r["range"] for r in hits] == ["bytes=100-"]
    assert not part.exists()


def test_server_without_range_support_restarts_cleanly(rng, tmp_path, monkeypatch, file_server):
    tiny = make_tiny_mnist(rng)
    serve_variant(file_server, "mnist", "official", tiny.files, monkeypatch)
    file_server.ignore_range = True
    part = tmp_path / "cache" / "mnist" / "t10k-images-idx3-ubyte.gz.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"garbage that is not the start of the file")
    fetch_dataset("mnist", tmp_path / "out", progress=False)
    np.testing.assert_array_equal(load_images(tmp_path / "out", "test")[0].images[..., 0], tiny.arrays["test"][0])


def test_download_that_keeps_breaking_fails_and_keeps_the_part(rng, tmp_path, monkeypatch, file_server):
    from ganlab.data.download import download

    file_server.files["big.bin"] = bytes(range(256)) * 100
    file_server.cut_after["big.bin"] = 1000
    dest = tmp_path / "dl" / "big.bin"

    class AlwaysCut(dict):
        def pop(self, key, default=None):  # every request is cut
            return 1000 if key == "big.bin" else default

    file_server.cut_after = AlwaysCut()
    with pytest.raises(FetchError, match=r"stopped at 3000 bytes after 2 retries.*next run resumes"):
        download(file_server.url("big.bin"), dest, retries=2, backoff=0.01, progress=False)
    assert not dest.exists() and dest.with_name("big.bin.part").stat().st_size == 3000


def test_http_404_names_the_url(file_server, tmp_path):
    from ganlab.data.download import download

    with pytest.raises(FetchError, match=re.escape(file_server.url("missing.gz")) + ": the server answered HTTP 404"):
        download(file_server.url("missing.gz"), tmp_path / "x.gz", progress=False)


def test_unreachable_host_fails_fast_and_says_how_to_use_a_mirror(rng, tmp_path, monkeypatch, closed_port_url, file_server):
    tiny = make_tiny_mnist(rng)
    spec = serve_variant(file_server, "mnist", "official", tiny.files, monkeypatch)
    import dataclasses

    var = spec.variants[0]
    dead = tuple(dataclasses.replace(f, urls=(closed_port_url + "/" + f.name,)) for f in var.files)
    monkeypatch.setitem(sources.DATASETS, "mnist", dataclasses.replace(spec, variants=(dataclasses.replace(var, files=dead),)))

    start = time.monotonic()
    with pytest.raises(FetchError) as err:
        fetch_dataset("mnist", tmp_path / "out", progress=False)
    assert time.monotonic() - start < 5
    msg = str(err.value)
    assert "could not reach " + closed_port_url in msg and "GANLAB_DATA_MIRROR" in msg
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- bad archives and names


@pytest.mark.parametrize("member", ["../evil.png", "train/../../evil.png", "/etc/evil.png"])
def test_archive_member_escaping_the_target_is_refused(member, rng, tmp_path):
    files, _ = _image_folder(rng)
    files[member] = image_bytes(np.zeros((8, 8, 3), np.uint8))
    src = tmp_path / "bad.tar.gz"
    src.write_bytes(tar_gz(files))
    with pytest.raises(UnsafeArchiveError, match=f"member {member!r}"):
        fetch_local(src, "bad", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "evil.png").exists()


def test_zip_member_escaping_the_target_is_refused(tmp_path):
    src = tmp_path / "bad.zip"
    with zipfile.ZipFile(src, "w") as zf:
        zf.writestr("ok/a.png", image_bytes(np.zeros((4, 4, 3), np.uint8)))
        zf.writestr("../../escape.png", b"x")
    with pytest.raises(UnsafeArchiveError, match=r"'\.\./\.\./escape\.png'"):
        fetch_local(src, "bad", tmp_path / "out")


def test_symlink_member_is_refused(tmp_path):
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("photos/link.jpg")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tf.addfile(info)
    src = tmp_path / "links.tar.gz"
    src.write_bytes(buf.getvalue())
    with pytest.raises(UnsafeArchiveError, match="is a link to '/etc/passwd'"):
        fetch_local(src, "links", tmp_path / "out")


def test_truncated_archive_is_an_error_naming_it(rng, tmp_path):
    files, _ = _image_folder(rng, n=20)
    data = tar_gz(files)
    src = tmp_path / "cut.tar.gz"
    src.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match=r"cut\.tar\.gz: truncated or corrupt archive"):
        fetch_local(src, "cut", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_corrupt_image_in_archive_is_named(rng, tmp_path):
    files, _ = _image_folder(rng)
    files["mydata/train/cat/0001.png"] = files["mydata/train/cat/0001.png"][:30]
    src = tmp_path / "d.tar.gz"
    src.write_bytes(tar_gz(files))
    with pytest.raises(DataFormatError, match=r"train/cat/0001\.png: unreadable or corrupt image"):
        fetch_local(src, "d", tmp_path / "out")


def test_unknown_dataset_is_an_error_listing_the_known_ones(tmp_path):
    with pytest.raises(FetchError, match=r"unknown dataset 'mnsit'; known datasets: mnist, fashion-mnist"):
        fetch_dataset("mnsit", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_failed_fetch_keeps_the_previous_output(rng, tmp_path, monkeypatch, file_server):
    tiny = make_tiny_mnist(rng)
    serve_variant(file_server, "mnist", "official", tiny.files, monkeypatch)
    fetch_dataset("mnist", tmp_path / "out", progress=False)
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}

    import shutil

    shutil.rmtree(tmp_path / "cache")
    file_server.files["mnist/train-labels-idx1-ubyte.gz"] = b"\x1f\x8b garbage"
    with pytest.raises(ChecksumError):
        fetch_dataset("mnist", tmp_path / "out", progress=False)
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_dataset_json_is_plain_json(rng, tmp_path, monkeypatch, file_server):
    tiny = make_tiny_mnist(rng)
    serve_variant(file_server, "mnist", "official", tiny.files, monkeypatch)
    fetch_dataset("mnist", tmp_path / "out", progress=False)
    info = json.loads((tmp_path / "out" / "dataset.json").read_text())
    for key in ("name", "variant", "source", "sha256", "counts", "class_counts", "shape"):
        assert key in info


# --------------------------------------------------------------------------- size limits


def test_photo_over_the_pixel_limit_is_left_out_and_recorded(rng, tmp_path):
    src = tmp_path / "photos"
    (src / "ann").mkdir(parents=True)
    for i in range(2):
        (src / "ann" / f"{i}.jpg").write_bytes(image_bytes(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8), "JPEG"))
    (src / "bob").mkdir()
    (src / "bob" / "bomb.png").write_bytes(png_claiming(50_000, 50_000))
    info = fetch_local(src, "mine", tmp_path / "out")
    assert info["counts"] == {"all": 2} and load_photos(tmp_path / "out").paths == ["ann/0.jpg", "ann/1.jpg"]
    assert info["classes"] == ["ann"]
    assert info["rejected"] == [{"path": "bob/bomb.png", "reason": "too-large",
                                 "detail": "image claims 2,500,000,000 pixels, over the limit of 50,000,000 (MAX_PIXELS)"}]
    assert read_info(tmp_path / "out")["rejected"] == info["rejected"]


def test_labelled_image_over_a_limit_is_left_out_and_its_class_kept(rng, tmp_path, monkeypatch):
    monkeypatch.setattr(archives, "MAX_MEMBER_BYTES", 2**20)
    files, _ = _image_folder(rng, n=1)
    files["mydata/test/dog/0000.png"] = png_claiming(12_000, 12_000)
    files["mydata/train/dog/0001.png"] = bytes(2**20 + 1)  # over the per-file limit: never decoded
    src = tmp_path / "mine.zip"
    src.write_bytes(zip_bytes(files))
    info = fetch_local(src, "mine", tmp_path / "out")
    assert info["counts"] == {"train": 2, "test": 1} and info["classes"] == ["cat", "dog"]
    assert [(r["path"], r["reason"]) for r in info["rejected"]] == [
        ("mydata/train/dog/0001.png", "too-large"), ("mydata/test/dog/0000.png", "too-large")]
    assert "144,000,000 pixels" in info["rejected"][1]["detail"]


def test_a_folder_whose_every_image_is_rejected_is_an_error_naming_it(tmp_path):
    src = tmp_path / "bombs"
    src.mkdir()
    (src / "a.png").write_bytes(png_claiming(50_000, 50_000))
    with pytest.raises(DataFormatError, match=r"bombs: no usable image, all 1 rejected \(a\.png: image claims 2,500,000,000 pixels"):
        fetch_local(src, "b", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_fetch_from_a_folder_never_opens_its_other_files(rng, tmp_path, monkeypatch):
    src = tmp_path / "photos"
    src.mkdir()
    (src / "a.jpg").write_bytes(image_bytes(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), "JPEG"))
    with open(src / "film.mp4", "wb") as fh:
        fh.truncate(1536 * 2**20)  # 1.5 GB, sparse
    opened = []
    real_open = os.open
    monkeypatch.setattr(archives.os, "open", lambda path, *a, **k: opened.append(Path(path).name) or real_open(path, *a, **k))
    info = fetch_local(src, "p", tmp_path / "out")
    assert info["counts"] == {"all": 1} and "film.mp4" not in opened


def test_cifar_batch_over_the_member_limit_is_an_error_naming_it(file_server, monkeypatch, rng, tmp_path):
    tarball, _ = make_tiny_cifar_tarball(rng)  # 4 rows a batch: about 12 KB each
    serve_variant(file_server, "cifar10", "official", {"cifar-10-python.tar.gz": tarball}, monkeypatch)
    monkeypatch.setattr(archives, "MAX_MEMBER_BYTES", 4096)
    with pytest.raises(DataFormatError, match=r"cifar-10-python\.tar\.gz:cifar-10-batches-py/data_batch_1: [\d,]+ bytes, "
                                              r"over the per-file limit of 4,096 bytes"):
        fetch_dataset("cifar10", tmp_path / "c", variant="official", progress=False)
    assert not (tmp_path / "c").exists()


def test_idx_gzip_over_the_member_limit_is_an_error_naming_it(file_server, monkeypatch, rng, tmp_path):
    tiny = make_tiny_mnist(rng)  # 12 images of 28x28: 9,424 bytes decompressed
    serve_variant(file_server, "mnist", "official", tiny.files, monkeypatch)
    monkeypatch.setattr(archives, "MAX_MEMBER_BYTES", 4096)
    with pytest.raises(DataFormatError, match=r"train-images-idx3-ubyte\.gz: over 4,096 bytes when read, the per-file limit \(MAX_MEMBER_BYTES\)"):
        fetch_dataset("mnist", tmp_path / "out", progress=False)
