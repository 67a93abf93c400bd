"""Face cropping: bad files never stop a run; real faces (from the mirror's LFW) are found and cropped."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from helpers import png_claiming

from ganlab.data import archives
from ganlab.data.config import FacesParams
from ganlab.data.datasets import load_images
from ganlab.data.faces import FaceCropper, crop_faces, iter_photo_inputs, load_cascade, square_crop
from ganlab.errors import DataFormatError, GanlabError, ParamsError

MIRROR = os.environ.get("GANLAB_DATA_MIRROR")
needs_mirror = pytest.mark.skipif(not MIRROR or not Path(MIRROR, "lfw-gray-subset.tar.gz").is_file(),
                                  reason="needs the LFW photos of GANLAB_DATA_MIRROR")


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def png(img: np.ndarray) -> bytes:
    return cv2.imencode(".png", img)[1].tobytes()


def bad_photos(folder: Path) -> dict[str, str]:
    """A folder of files no face can come from, each with the reason it must be rejected for."""
    folder.mkdir()
    landscape = cv2.GaussianBlur(np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8), (9, 9), 3)
    good = io.BytesIO()
    Image.fromarray(landscape).save(good, format="JPEG")
    (folder / "landscape.jpg").write_bytes(good.getvalue())
    (folder / "corrupt.jpg").write_bytes(good.getvalue()[: len(good.getvalue()) // 2])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.jpg").write_bytes(b"this is a text file\n")
    (folder / "tiny.png").write_bytes(png(np.zeros((20, 20), np.uint8)))
    (folder / "bomb.png").write_bytes(png_claiming(50_000, 50_000))
    (folder / "huge.jpg").write_bytes(bytes(2 * 2**20))  # over the (lowered) per-file limit: never read
    return {"corrupt.jpg": "corrupt", "empty.jpg": "unreadable", "text.jpg": "not-an-image", "tiny.png": "too-small",
            "landscape.jpg": "no-face", "bomb.png": "too-large", "huge.jpg": "too-large"}


def test_every_unusable_file_is_rejected_with_its_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(archives, "MAX_MEMBER_BYTES", 2**20)
    expected = bad_photos(tmp_path / "photos")
    cropper = FaceCropper(FacesParams())
    got = {item.source: cropper(item) for item in iter_photo_inputs(tmp_path / "photos")}
    assert {source: result[0] for source, result in got.items()} == expected
    assert got["bomb.png"][1] == "image claims 2,500,000,000 pixels, over the limit of 50,000,000 (MAX_PIXELS)"
    assert got["huge.jpg"][1].startswith("2,097,152 bytes, over the per-file limit of 1,048,576")


def test_no_face_in_any_photo_is_an_error_that_writes_nothing(tmp_path):
    bad_photos(tmp_path / "photos")
    out = tmp_path / "out"
    out.mkdir()
    (out / "dataset.json").write_text("the previous output")
    # at the real per-file limit the 2 MiB of zeros is read, and is no image
    with pytest.raises(DataFormatError, match=r"photos: no usable photo, no face in any of its 7 files \(unreadable 1, "
                                              r"too-large 1, corrupt 1, not-an-image 2, too-small 1, no-face 1; e\.g\. bomb\.png: "
                                              r"image claims 2,500,000,000 pixels"):
        crop_faces(tmp_path / "photos", out, FacesParams(), workers=2, progress=False)
    assert [p.name for p in out.iterdir()] == ["dataset.json"] and (out / "dataset.json").read_text() == "the previous output"


def test_negative_workers_is_an_error_before_any_work(tmp_path):
    with pytest.raises(ParamsError, match=r"workers = -1: must be >= 0"):
        crop_faces(tmp_path / "missing", tmp_path / "out", FacesParams(), workers=-1)


@pytest.mark.parametrize("content", [b"root:x:0:0:root:/root:/bin/bash\n", b"", b"<a></a>",
                                     b'<?xml version="1.0"?>\n<opencv_storage></opencv_storage>\n'])
def test_a_file_that_is_not_a_cascade_is_an_error_naming_it(content, tmp_path):
    bad = tmp_path / "cascade.xml"
    bad.write_bytes(content)
    with pytest.raises(GanlabError, match=rf"cascade {bad}: OpenCV (cannot load it as a cascade XML file|read it but found no cascade)"):
        load_cascade(str(bad))
    assert "\n" not in str(pytest.raises(GanlabError, load_cascade, str(bad)).value)


def test_square_crop_stays_square_near_the_border():
    photo = np.arange(100 * 80, dtype=np.uint32).reshape(80, 100).astype(np.uint8)
    crop, side = square_crop(photo, (70, 50, 30, 30), margin=0.5, size=32)
    assert crop.shape == (32, 32, 1) and side == 60
    # the 60 px square is shifted left and up to stay inside the 100x80 photo
    want = cv2.resize(photo[20:80, 40:100], (32, 32), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(crop[..., 0], want)
    crop, side = square_crop(photo, (0, 0, 70, 70), margin=0.5, size=16)  # larger than the photo
    assert crop.shape == (16, 16, 1) and side == 140


def lfw_photos(n: int) -> list[tuple[str, bytes]]:
    import tarfile

    out = []
    with tarfile.open(Path(MIRROR, "lfw-gray-subset.tar.gz")) as tf:
        for m in tf:
            if m.isfile() and m.name.endswith(".jpg"):
                out.append((m.name.split("/", 1)[1], tf.extractfile(m).read()))
                if len(out) == n:
                    break
    return out


@needs_mirror
def test_real_faces_are_cropped_with_manifest(tmp_path):
    folder = tmp_path / "lfw"
    for name, data in lfw_photos(12):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    (folder / "bomb.png").write_bytes(png_claiming(50_000, 50_000))  # a bad photo beside good ones: a reject
    (folder / "empty.jpg").write_bytes(b"")
    info = crop_faces(folder, tmp_path / "out", FacesParams(test_fraction=0.0), progress=False)
    rejects = {r["source"]: r["reason"] for r in read_csv(tmp_path / "out" / "rejects.csv")}
    assert rejects.get("bomb.png") == "too-large" and rejects.get("empty.jpg") == "unreadable"
    assert info["curation"]["rejected"]["too-large"] == 1
    train, classes = load_images(tmp_path / "out", "train")
    assert train.images.shape[1:] == (64, 64, 1)  # grey photos stay grey
    rows = read_csv(tmp_path / "out" / "manifest.csv")
    assert len(rows) == len(train.labels) >= 11  # nearly every LFW photo has a face
    for r in rows:
        assert 0 <= int(r["x"]) and int(r["x"]) + int(r["w"]) <= 250 and int(r["w"]) >= 40
        assert float(r["sharpness"]) > 0 and r["label"] == r["source"].split("/")[0]
    assert sum(int(r["primary"]) for r in rows) == len({r["source"] for r in rows})
    assert info["curation"]["detector"]["cascade"] == "haarcascade_frontalface_default.xml"


@needs_mirror
def test_exif_orientation_is_applied_and_colour_kept(tmp_path):
    name, data = lfw_photos(1)[0]
    upright = Image.open(io.BytesIO(data)).convert("L")
    folder = tmp_path / "p"
    folder.mkdir()
    upright.save(folder / "upright.png")
    # stored turned a quarter left, with an EXIF tag saying "turn right to display"
    exif = Image.Exif()
    exif[0x0112] = 6
    upright.rotate(90, expand=True).save(folder / "rotated.jpg", format="JPEG", quality=95, exif=exif.tobytes())
    tinted = np.stack([np.asarray(upright)] * 3, axis=-1).astype(np.float32) * np.array([1.0, 0.8, 0.6])
    Image.fromarray(tinted.astype(np.uint8)).save(folder / "colour.png")

    crop_faces(folder, tmp_path / "out", FacesParams(test_fraction=0.0), progress=False)
    rows = {r["source"]: r for r in read_csv(tmp_path / "out" / "manifest.csv") if r["primary"] == "1"}
    assert set(rows) == {"upright.png", "rotated.jpg", "colour.png"}
    box = lambda r: np.array([int(r[k]) for k in "xywh"])  # noqa: E731
    assert np.abs(box(rows["rotated.jpg"]) - box(rows["upright.png"])).max() <= 6  # same face, same place
    train, _ = load_images(tmp_path / "out", "train")
    assert train.images.shape[-1] == 3  # a colour photo makes the set colour
    idx = {i.split("#")[0]: k for k, i in enumerate(train.ids)}
    c = train.images[idx["colour.png"]].astype(int)
    assert (c[..., 0] - c[..., 2]).mean() > 10  # the tint survived: colour kept
