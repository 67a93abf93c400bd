"""Helpers the tests share: a small HTTP file server, tiny files in the official formats, scratch DVC projects.

A plain module (pyproject's pytest ``pythonpath`` puts tests/ on sys.path), so any test file in any
folder imports it the same way; tests/conftest.py keeps only the fixtures.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.server
import io
import pickle
import struct
import tarfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganlab.data import sources


# --------------------------------------------------------------------------- HTTP server


@dataclass
class FileServer:
    """Serves ``files`` (URL path -> bytes) with Range support; knobs simulate bad networks."""

    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[dict] = field(default_factory=list)
    cut_after: dict[str, int] = field(default_factory=dict)  # path -> send this many body bytes, once
    ignore_range: bool = False
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"


def handler_for(server: FileServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            path = self.path.lstrip("/")
            rng = self.headers.get("Range")
            server.requests.append({"path": path, "range": rng})
            if path not in server.files:
                self.send_error(404, "not found")
                return
            body = server.files[path]
            start = 0
            if rng and not server.ignore_range:
                start = int(rng.removeprefix("bytes=").split("-")[0])
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            payload = body[start:]
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Connection", "close")
            self.end_headers()
            cut = server.cut_after.pop(path, None)
            if cut is not None:  # promise the whole body, send part of it, hang up
                self.wfile.write(payload[:cut])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(payload)

    return Handler


# --------------------------------------------------------------------------- tiny files


def idx_bytes(array: np.ndarray) -> bytes:
    """An idx file (MNIST's format) for a uint8 array."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tar_gz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def image_bytes(array: np.ndarray, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array.squeeze(-1) if array.shape[-1] == 1 else array).save(buf, format=fmt)
    return buf.getvalue()


def zip_regions(path: Path) -> dict[str, int]:
    """One offset in each part of the zip torch.save writes: what the members' CRC-32s cover (a tensor's
    bytes) and what they do not (headers, the padding that aligns each tensor, the central directory)."""
    data = path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        tensor = next(i for i in archive.infolist() if "/data/" in i.filename and i.file_size > 8)
        start_dir = archive.start_dir
    name_len, extra_len = (int.from_bytes(data[tensor.header_offset + o:tensor.header_offset + o + 2], "little")
                           for o in (26, 28))
    assert extra_len > 0  # torch pads every member's header so that its tensor starts aligned
    payload = tensor.header_offset + 30 + name_len + extra_len
    return {
        "local header signature": 0,
        "local header time (no CRC covers it)": 10,
        "alignment padding": payload - 1,
        "tensor data": payload + tensor.file_size // 2,
        "central directory version": start_dir + 4,
        "central directory attributes": start_dir + 38,
        "end record entry count": data.rfind(b"PK\x05\x06") + 10,
        "last byte": len(data) - 1,
    }


def flipped(path: Path, offset: int, to: Path) -> Path:
    """A copy of ``path`` at ``to`` with one bit of the byte at ``offset`` flipped."""
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x10
    to.write_bytes(bytes(data))
    return to


def png_claiming(width: int, height: int) -> bytes:
    """A PNG of a few hundred bytes whose header claims ``width`` x ``height`` grey pixels: a decompression bomb.

    Its data holds four zero rows, so only a reader that trusts the header allocates the rest.
    """

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey, no interlace
    idat = zlib.compress(bytes((width + 1) * 4), 9)  # four rows, filter byte 0 each
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def zip_bytes(members: dict[str, bytes]) -> bytes:
    """A deflated zip: runs of zeros shrink about 1000x, so a bomb over a limit stays a few KB."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@dataclass
class TinyMnist:
    files: dict[str, bytes]  # official file name -> gz bytes
    arrays: dict[str, tuple[np.ndarray, np.ndarray]]  # split -> (images, labels)


def bars(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """8x8 grey images: class 0 has a bright left half, class 1 a bright right half, under noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    images = rng.integers(0, 90, (n, 8, 8, 1)).astype(np.uint8)
    for i, y in enumerate(labels):
        images[i, :, (0 if y == 0 else 4):(4 if y == 0 else 8)] += 150
    return images, labels


def make_tiny_mnist(rng: np.random.Generator, n_train: int = 12, n_test: int = 5) -> TinyMnist:
    files, arrays = {}, {}
    for split, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        files[f"{prefix}-images-idx3-ubyte.gz"] = gzip.compress(idx_bytes(images))
        files[f"{prefix}-labels-idx1-ubyte.gz"] = gzip.compress(idx_bytes(labels))
        arrays[split] = (images, labels)
    return TinyMnist(files, arrays)


def make_tiny_cifar_tarball(rng: np.random.Generator, per_batch: int = 4) -> tuple[bytes, dict]:
    """The official layout: cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}."""
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    members, batches = {}, {}
    for batch in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, size=per_batch).tolist()
        batches[batch] = (data, labels)
        # bytes keys, as the original (Python 2) pickles have
        members[f"cifar-10-batches-py/{batch}"] = pickle.dumps({b"data": data, b"labels": labels, b"batch_label": batch.encode()}, protocol=2)
    members["cifar-10-batches-py/batches.meta"] = pickle.dumps({b"label_names": [n.encode() for n in names]}, protocol=2)
    members["cifar-10-batches-py/readme.html"] = b"<html></html>"
    return tar_gz(members), batches


def serve_variant(
    server: FileServer, dataset: str, variant: str, files: dict[str, bytes], monkeypatch: pytest.MonkeyPatch,
    checksum_of: str = "file",
) -> sources.DatasetSpec:
    """Point a registered variant at ``server`` with checksums of the tiny ``files``; keep its reader."""
    spec = sources.DATASETS[dataset]
    var = spec.variant(variant)
    new_files = []
    for f in var.files:
        data = files[f.name]
        server.files[f"{dataset}/{f.name}"] = data
        digest = md5(gzip.decompress(data)) if f.checksum.of == "gunzip" else sha256(data)
        algo = "md5" if f.checksum.of == "gunzip" else "sha256"
        new_files.append(dataclasses.replace(
            f, urls=(server.url(f"{dataset}/{f.name}"),), checksum=sources.Checksum(algo, digest, f.checksum.of)
        ))
    new_var = dataclasses.replace(var, files=tuple(new_files))
    new_spec = dataclasses.replace(spec, variants=tuple(new_var if v.name == variant else v for v in spec.variants))
    monkeypatch.setitem(sources.DATASETS, dataset, new_spec)
    return new_spec


# --------------------------------------------------------------------------- scratch DVC projects


def run_in(args: list[str], cwd: Path, **env: str) -> str:
    """Run a command with the venv's tools first on PATH; fail the test with its output if it fails."""
    import os
    import subprocess
    import sys

    full = {**os.environ, "DVC_NO_ANALYTICS": "1",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", **env}
    proc = subprocess.run(args, cwd=cwd, env=full, capture_output=True, text=True)
    assert proc.returncode == 0, f"{args} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def scratch_project(dst: Path, stages: list[str], shared: dict[str, bool] | None = None) -> Path:
    """A copy of the project's code with only ``stages`` of the real dvc.yaml (and stage code, which writes the
    code manifests every stage depends on), as a fresh git + DVC repo.
    ``shared``: the scratch project's runs (run -> whether it starts from another's pre-training), when its train
    stage is to depend on the snapshots they start from as the real one does; without, it loops over models:."""
    import shutil

    import yaml

    from ganlab.catalogue import snapshot_dep

    root = Path(__file__).resolve().parents[1]
    dst.mkdir(parents=True)
    shutil.copy(root / ".dvcignore", dst / ".dvcignore")
    pipeline = yaml.safe_load((root / "dvc.yaml").read_text())
    if "train" in stages:
        # dvc.yaml's train items are params.yaml's runs (written by `ganlab pipeline`); a scratch project trains
        # runs of its own, so its train stage loops over its own models: with every item's code manifest as deps
        train = pipeline["stages"]["train"]
        code = sorted({item["code"] for item in train["foreach"].values()})
        train["foreach"] = "${models}"
        deps = [d for d in train["do"]["deps"] if d != "${item.code}"] + code
        if shared is None:
            deps.remove("${item.start}")
        else:
            train["foreach"] = {run: {"data": f"${{models.{run}.data}}",
                                      "start": snapshot_dep(run) if starts else "stages/train.py"}
                                for run, starts in shared.items()}
        train["do"]["deps"] = deps
    stages = ["code", *stages] if "code" not in stages else stages  # every stage depends on its code manifest
    (dst / "dvc.yaml").write_text(yaml.safe_dump({"stages": {k: pipeline["stages"][k] for k in stages}}))
    shutil.copytree(root / "stages", dst / "stages", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(root / "src", dst / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    run_in(["git", "init", "-q"], dst)
    run_in(["dvc", "init", "-q"], dst)
    run_in(["dvc", "config", "core.analytics", "false"], dst)
    return dst


def read_only_folder(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``folder`` created read-only (0555). Root writes anywhere, so there ``os.access`` is made to answer
    for ``folder`` as it does for everyone else: the checks under test see what other users are refused."""
    import os

    folder.mkdir()
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == folder else real_access(p, mode))
    return folder


def expand_code_deps(deps: list[str], root: Path) -> list[str]:
    """A stage's deps in dvc.yaml with each code manifest (data/code/*.sha256, written by stage code) replaced by
    the files it lists: the files whose change re-runs the stage."""
    from ganlab.manifests import CODE_DIR, stage_manifests

    manifests = stage_manifests(root)
    found = []
    for dep in deps:
        name = dep.removeprefix(CODE_DIR + "/")
        found += manifests[name] if dep.startswith(CODE_DIR + "/") else [dep]
    return found
