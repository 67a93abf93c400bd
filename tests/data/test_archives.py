"""Reading archives and folders: only regular files, never past the size limits, never a skipped file."""

from __future__ import annotations

import io
import os
import struct
import tarfile
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from helpers import png_claiming, tar_gz, zip_bytes

from ganlab.data import archives
from ganlab.data.archives import Rejection, iter_members, read_capped
from ganlab.data.formats import MAX_PIXELS, ImageTooLargeError, check_image, decode_image
from ganlab.errors import DataFormatError, UnsafeArchiveError

MiB = 2**20


@pytest.fixture
def small_limits(monkeypatch):
    monkeypatch.setattr(archives, "MAX_MEMBER_BYTES", 1 * MiB)
    monkeypatch.setattr(archives, "MAX_TOTAL_BYTES", 3 * MiB)


def folder(tmp_path: Path, files: dict[str, bytes]) -> Path:
    root = tmp_path / "in"
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    root.mkdir(exist_ok=True)
    return root


# --------------------------------------------------------------------------- folders: regular files only


def test_folder_yields_regular_files_in_sorted_order(tmp_path):
    root = folder(tmp_path, {"b/2.png": b"2", "a.png": b"1", "b/1.png": b"3"})
    assert list(iter_members(root)) == [("a.png", b"1"), ("b/1.png", b"3"), ("b/2.png", b"2")]


def test_fifo_in_a_folder_is_refused_without_opening_it(tmp_path, no_hang):
    root = folder(tmp_path, {"a.png": b"x"})
    os.mkfifo(root / "pipe.png")  # opening it for reading would block until a writer came
    with pytest.raises(UnsafeArchiveError, match=r"'pipe\.png' is a named pipe \(FIFO\), not a regular file"):
        list(iter_members(root))


def test_fifo_is_refused_even_when_its_name_is_not_selected(tmp_path, no_hang):
    root = folder(tmp_path, {"a.png": b"x"})
    os.mkfifo(root / "notes")
    with pytest.raises(UnsafeArchiveError, match="named pipe"):
        list(iter_members(root, select=lambda name: name.endswith(".png")))


@pytest.mark.parametrize("target", ["/dev/zero", "outside"])
def test_a_symlink_in_a_folder_is_refused_like_an_archive_link(target, tmp_path, no_hang):
    outside = tmp_path / "outside"
    outside.write_bytes(b"secret")
    root = folder(tmp_path, {"a.png": b"x"})
    link_to = "/dev/zero" if target == "/dev/zero" else str(outside)
    (root / "sub").mkdir()
    (root / "sub" / "link.png").symlink_to(link_to)
    with pytest.raises(UnsafeArchiveError, match=rf"'sub/link\.png' is a symbolic link to '{link_to}'"):
        list(iter_members(root))


def test_a_symlink_that_stays_inside_is_refused_too(tmp_path):
    root = folder(tmp_path, {"a.png": b"x"})
    (root / "b.png").symlink_to(root / "a.png")
    (root / "dir").symlink_to(root)  # a loop, as well
    with pytest.raises(UnsafeArchiveError, match="symbolic link"):
        list(iter_members(root))


def test_a_character_device_is_refused(tmp_path, monkeypatch):
    # mknod needs privileges; a folder listing that names /dev shows the same check on real devices
    dev = Path("/dev")
    monkeypatch.setattr(archives.os, "listdir", lambda path: ["null"] if Path(path) == dev else os.listdir(path))
    with pytest.raises(UnsafeArchiveError, match=r"'null' is a character device"):
        list(iter_members(dev))


def test_an_unselected_file_is_never_opened(tmp_path, monkeypatch):
    root = folder(tmp_path, {"a.png": b"x"})
    with open(root / "film.mp4", "wb") as fh:  # 1.5 GB on paper, sparse on disk
        fh.truncate(1536 * MiB)
    opened = []
    real_open = os.open
    monkeypatch.setattr(archives.os, "open", lambda path, *a, **k: opened.append(Path(path).name) or real_open(path, *a, **k))
    assert list(iter_members(root, select=lambda name: name.endswith(".png"))) == [("a.png", b"x")]
    assert opened == ["a.png"]


# --------------------------------------------------------------------------- size limits


def test_read_capped_counts_the_bytes_a_stream_really_yields():
    class Endless(io.RawIOBase):  # a member whose header promised little: it just keeps giving
        def readinto(self, buf):
            buf[:] = bytes(len(buf))
            return len(buf)

    assert read_capped(Endless(), 5 * MiB) is None  # stops, does not hang or fill memory
    assert read_capped(io.BytesIO(bytes(MiB)), MiB) == bytes(MiB)  # exactly at the limit: fine
    assert read_capped(io.BytesIO(bytes(MiB + 1)), MiB) is None


@pytest.mark.parametrize("kind", ["zip", "tar.gz", "folder"])
def test_member_over_the_limit_is_an_error_naming_it_or_a_rejection(kind, small_limits, tmp_path):
    files = {"d/ok.png": b"fine", "d/bomb.png": bytes(MiB + 1)}
    if kind == "folder":
        src = folder(tmp_path, files)
    else:
        src = tmp_path / f"in.{kind}"
        src.write_bytes(zip_bytes(files) if kind == "zip" else tar_gz(files))
        assert src.stat().st_size < 20_000  # the bomb is small; its member is not
    with pytest.raises(DataFormatError, match=r"d/bomb\.png: 1,048,577 bytes, over the per-file limit of 1,048,576"):
        list(iter_members(src))
    rejected: list[Rejection] = []
    assert list(iter_members(src, rejected=rejected)) == [("d/ok.png", b"fine")]
    assert [(r.path, r.reason) for r in rejected] == [("d/bomb.png", "too-large")]


def test_a_zip_that_lies_about_its_member_size_is_not_believed(tmp_path):
    """A 64 MiB member whose headers claim 1,000 bytes: the read stops early and memory stays small."""
    data = bytearray(zip_bytes({"a.png": bytes(64 * MiB)}))
    # patch the uncompressed size in the local header (offset 22) and the central directory (offset 24)
    struct.pack_into("<I", data, 22, 1000)
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 1000)
    src = tmp_path / "liar.zip"
    src.write_bytes(bytes(data))
    assert zipfile.ZipFile(src).infolist()[0].file_size == 1000
    tracemalloc.start()
    try:
        with pytest.raises(DataFormatError, match=r"liar\.zip: truncated or corrupt zip archive \(BadZipFile: Bad CRC-32"):
            list(iter_members(src))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * MiB


def test_total_over_the_limit_is_an_error_naming_the_archive(small_limits, tmp_path):
    files = {f"{i}.png": bytes(MiB) for i in range(4)}  # each under the member limit, 4 MiB in all
    src = tmp_path / "many.zip"
    src.write_bytes(zip_bytes(files))
    with pytest.raises(DataFormatError, match=r"many\.zip: its files hold more than 3,145,728 bytes decompressed \(reached at '3\.png'\)"):
        list(iter_members(src, rejected=[]))


def test_a_tar_member_declared_over_the_limit_is_skipped_unread(small_limits, tmp_path, monkeypatch):
    src = tmp_path / "big.tar"
    with tarfile.open(src, "w") as tf:
        for name, size in (("big.png", 2 * MiB), ("ok.png", 3)):
            info = tarfile.TarInfo(name)
            info.size = size
            tf.addfile(info, io.BytesIO(bytes(size)))
    opened = []
    real = tarfile.TarFile.extractfile
    monkeypatch.setattr(tarfile.TarFile, "extractfile", lambda self, m: opened.append(m.name) or real(self, m))
    rejected: list[Rejection] = []
    assert list(iter_members(src, rejected=rejected)) == [("ok.png", bytes(3))]
    assert opened == ["ok.png"] and rejected[0].detail.startswith("2,097,152 bytes, over the per-file limit")


# --------------------------------------------------------------------------- pixels


@pytest.mark.parametrize("width, height", [(50_000, 50_000), (12_000, 12_000), (8_000, 8_000)])
def test_an_image_over_the_pixel_limit_is_refused_from_its_header(width, height):
    bomb = png_claiming(width, height)
    assert len(bomb) < 1000 and width * height > MAX_PIXELS
    for read in (decode_image, check_image):
        with pytest.raises(ImageTooLargeError, match=rf"x\.png: image claims .*{width * height:,} pixels, over the limit of 50,000,000"):
            read(bomb, "x.png")


def test_an_image_under_the_pixel_limit_decodes():
    assert decode_image(png_claiming(1000, 4), "x.png").shape == (4, 1000, 1)
