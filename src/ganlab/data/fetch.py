"""Fetch a dataset into ganlab's canonical form, from a local mirror, the cache or the network.

For each source file the order is: the mirror folder named by ``GANLAB_DATA_MIRROR`` (used in
place, read-only), then the download cache (``GANLAB_CACHE_DIR``, default
``~/.cache/ganlab``), then the official URLs. Every file passes its checksum wherever it came
from. The output folder is built beside its target and renamed into place only when complete,
so a failure at any point leaves the previous output (or nothing), never half of one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganlab import __version__
from ganlab.data.archives import is_archive, iter_members
from ganlab.data.datasets import INFO_FILE, write_content
from ganlab.data.download import _Unreachable, download, verify
from ganlab.data.formats import ImageData, PhotoData, is_image_name, read_any_image_folder
from ganlab.data.sources import DATASETS, DatasetSpec, SourceFile, Variant
from ganlab.errors import ChecksumError, DataFormatError, FetchError
from ganlab.files import atomic_directory, check_output_folder, hash_file, write_json_atomic

log = logging.getLogger(__name__)

MIRROR_ENV = "GANLAB_DATA_MIRROR"
CACHE_ENV = "GANLAB_CACHE_DIR"


def mirror_dir() -> Path | None:
    """The mirror folder from ``GANLAB_DATA_MIRROR``, or None when unset or not a folder."""
    value = os.environ.get(MIRROR_ENV)
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        log.warning("%s=%s is not a folder; ignoring it and using the network", MIRROR_ENV, value)
        return None
    return path


def cache_dir() -> Path:
    if value := os.environ.get(CACHE_ENV):
        return Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ganlab"


@dataclass
class Obtained:
    file: SourceFile
    path: Path
    origin: str  # "mirror" | "cache" | "network"
    url: str | None = None


def _in_mirror(mirror: Path | None, f: SourceFile) -> Path | None:
    if mirror is None:
        return None
    for candidate in (mirror / f.mirror_path, mirror / f.name):  # mirror tree, or a flat folder
        if candidate.is_file():
            return candidate
    return None


def choose_variant(spec: DatasetSpec, requested: str, mirror: Path | None) -> Variant:
    """``auto``: the first variant (official first) wholly in the mirror, else the first downloadable."""
    if requested != "auto":
        try:
            return spec.variant(requested)
        except KeyError:
            raise FetchError(
                f"dataset {spec.name!r} has no variant {requested!r}; choose one of: auto, {', '.join(spec.variant_names)}"
            ) from None
    for v in spec.variants:
        if all(_in_mirror(mirror, f) for f in v.files):
            return v
    for v in spec.variants:
        if v.downloadable:
            return v
    raise FetchError(f"dataset {spec.name!r} has no downloadable variant")  # a registry bug


def obtain(
    spec: DatasetSpec, variant: Variant, *, timeout: float = 30.0, retries: int = 3, progress: bool = True
) -> list[Obtained]:
    """Get every source file of ``variant`` as a verified local path."""
    mirror = mirror_dir()
    out = []
    for f in variant.files:
        if (path := _in_mirror(mirror, f)) is not None:
            try:
                verify(path, f.checksum)
            except (ChecksumError, DataFormatError) as exc:
                raise ChecksumError(f"mirror file {exc} (expected {f.checksum.describe()})") from None
            log.info("%s: using mirror file %s", spec.name, path)
            out.append(Obtained(f, path, "mirror"))
            continue
        if not f.urls:
            where = f"{MIRROR_ENV}={os.environ.get(MIRROR_ENV)!s} holds no {f.mirror_path}" if mirror else f"{MIRROR_ENV} is not set"
            raise FetchError(
                f"{spec.name} variant {variant.name!r} ({f.name}) exists only in local mirrors and {where}; "
                f"point {MIRROR_ENV} at a folder holding {f.mirror_path}, or use variant 'official'"
            )
        cached = cache_dir() / spec.name / f.name
        if cached.is_file():
            try:
                verify(cached, f.checksum)
                log.info("%s: using cached %s", spec.name, cached)
                out.append(Obtained(f, cached, "cache"))
                continue
            except (ChecksumError, DataFormatError) as exc:
                log.warning("cached file fails its check, downloading again: %s", exc)
                cached.unlink()
        out.append(_download_any(spec, f, cached, timeout=timeout, retries=retries, progress=progress))
    return out


def _download_any(spec: DatasetSpec, f: SourceFile, dest: Path, **kwargs: Any) -> Obtained:
    failures = []
    for url in f.urls:
        try:
            log.info("%s: downloading %s", spec.name, url)
            return Obtained(f, download(url, dest, f.checksum, **kwargs), "network", url)
        except _Unreachable as exc:
            failures.append(str(exc))
    others = [
        f"{', '.join(x.mirror_path for x in v.files)} (variant {v.name})"
        for v in spec.variants
        if f not in v.files
    ]
    holds = " or ".join([f.mirror_path, *others])
    hint = f"To work offline, set {MIRROR_ENV} to a folder that holds {holds} (see README, 'Working offline')."
    raise FetchError(f"{spec.name}: could not download {f.name}: " + "; ".join(failures) + ". " + hint)


def _describe(o: Obtained, sha256: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": o.file.name, "origin": o.origin}
    if o.origin == "mirror":
        entry["mirror_path"] = o.file.mirror_path
    if o.url or o.file.urls:
        entry["url"] = o.url or o.file.urls[0]
    entry.update(bytes=o.path.stat().st_size, sha256=sha256, verified=o.file.checksum.describe())
    return entry


def fetch_dataset(
    name: str,
    out: str | os.PathLike,
    *,
    variant: str = "auto",
    timeout: float = 30.0,
    retries: int = 3,
    progress: bool = True,
) -> dict[str, Any]:
    """Fetch dataset ``name`` into folder ``out``; return what dataset.json records."""
    if name not in DATASETS:
        raise FetchError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")
    spec = DATASETS[name]
    check_output_folder(out, INFO_FILE)  # before the download, not after it
    chosen = choose_variant(spec, variant, mirror_dir())
    log.info("%s: variant %s (%s)", name, chosen.name, chosen.description)
    obtained = obtain(spec, chosen, timeout=timeout, retries=retries, progress=progress)
    digests = {o.file.name: hash_file(o.path) for o in obtained}
    content = chosen.reader({o.file.name: o.path for o in obtained})
    info = {
        "name": spec.name,
        "description": spec.description,
        "variant": chosen.name,
        "variant_description": chosen.description,
        "official": chosen.official,
        "source": {"homepage": spec.homepage, "files": [_describe(o, digests[o.file.name]) for o in obtained]},
        "sha256": digests,
    }
    if rejected := _rejected(content):  # only when some were: the official datasets' records stay as they were
        info["rejected"] = rejected
    return _write(content, Path(out), info)


def fetch_local(source: str | os.PathLike, name: str, out: str | os.PathLike) -> dict[str, Any]:
    """Bring a user's archive or folder of images into canonical form (``--from``).

    ``split/class/*.jpg|png`` trees become labelled image arrays; anything else (folders of
    photos, loose photos) is kept as encoded photos labelled by folder. Files over the size limits
    are left out and listed in dataset.json's ``rejected``.
    """
    source = Path(source)
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", name):
        raise FetchError(f"dataset name {name!r} must be lower-case letters, digits, '.', '_' or '-'")
    if not source.exists():
        raise FetchError(f"{source}: no such file or folder")
    if not source.is_dir() and not is_archive(source):
        raise FetchError(f"{source}: not a folder or an archive ({', '.join(('.tar.gz', '.tgz', '.tar', '.zip'))})")
    check_output_folder(out, INFO_FILE, [source])  # before reading, not after it
    content = read_any_image_folder(source)
    layout = "split/class" if isinstance(content, ImageData) else "photo-folder"
    digest = hash_file(source) if source.is_file() else _tree_sha256(source)
    info = {
        "name": name,
        "description": f"user data from {source.name} ({layout} layout)",
        "variant": "local",
        "variant_description": f"read from {source.name}",
        "official": False,
        "source": {"files": [{"name": source.name, "origin": "local", "path": str(source.resolve()), "sha256": digest}]},
        "sha256": {source.name: digest},
        "rejected": _rejected(content),
    }
    return _write(content, Path(out), info, inputs=[source])


def _rejected(content: Any) -> list[dict[str, str]]:
    """The files an image folder or archive held but the dataset leaves out, each with its reason."""
    if not isinstance(content, (ImageData, PhotoData)):
        return []
    return [{"path": r.path, "reason": r.reason, "detail": r.detail} for r in content.rejected]


def _write(content, out: Path, info: dict[str, Any], inputs: list[Path] = ()) -> dict[str, Any]:
    with atomic_directory(out, INFO_FILE, inputs) as tmp:
        summary = write_content(content, tmp)
        info = {**info, **summary, "ganlab_version": __version__}
        write_json_atomic(tmp / INFO_FILE, info)
    counts = ", ".join(f"{k} {v}" for k, v in info["counts"].items())
    log.info("%s (%s): wrote %s [%s]", info["name"], info["variant"], out, counts)
    return info


def _tree_sha256(root: Path) -> str:
    """A digest of a folder: every image file's relative path and bytes, in sorted order.

    Only the files the dataset is read from: other files are never opened, and an image over the
    per-file byte limit (never read, listed as rejected) is left out of the digest.
    """
    h = hashlib.sha256()
    for rel, data in sorted(iter_members(root, select=is_image_name, rejected=[])):
        h.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()
