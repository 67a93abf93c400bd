"""The unpaired two-domain dataset that the translation models (CycleGAN, DiscoGAN) train on.

Domain A (label 0) is a few classes of one image dataset, domain B (label 1) a few classes of
another of the same image shape; no image of A is paired with one of B. The default pair is
MNIST digits 0 and 1 against Fashion-MNIST bags and trousers. Both are 28x28 grey objects centred
on black, so a translator has to change what the object is while it may keep where it is, how
big, how slanted and how thick; and each domain holds one thin upright shape (1, trouser) and one
round or boxy closed shape (0, bag), so a mapping that preserves shape has a relation to discover,
as DiscoGAN's paper asks, and whether 1 goes to trouser and 0 to bag can be checked. Every image
keeps its source, split, index and class in ``ids``, and ``dataset.json`` records the sources, the
sha256 of their dataset.json files, the classes and the seed of the subsets, so the set is rebuilt
exactly from params and the fetched data, offline.

Both domains get the same number of images per split (``*_per_domain``, or all that the smaller
has), drawn without replacement with the global seed and kept in their source order.
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ganlab import __version__
from ganlab.data.config import DomainsParams
from ganlab.data.datasets import INFO_FILE, load_images, read_info, write_content
from ganlab.data.formats import ImageData, ImageSplit
from ganlab.errors import DataFormatError, ParamsError
from ganlab.files import atomic_directory, hash_file, write_json_atomic

log = logging.getLogger(__name__)

NAME = "domains"
DOMAINS = ("A", "B")  # label 0, label 1


@dataclass(frozen=True)
class DomainSource:
    """Where one domain comes from: a dataset folder and the indices of its chosen classes."""

    domain: str  # "A" or "B"
    dataset: str
    root: Path
    classes: tuple[str, ...]
    class_ids: tuple[int, ...]
    info: dict[str, Any]

    @property
    def label(self) -> str:
        """The domain's class name in the new dataset, e.g. ``mnist (0, 1)``."""
        return f"{self.dataset} ({', '.join(self.classes)})"


def open_source(domain: str, dataset: str, classes: tuple[str, ...], data_root: Path) -> DomainSource:
    """Check that ``data_root/dataset`` is a fetched image dataset holding ``classes``."""
    root = data_root / dataset
    if not (root / INFO_FILE).is_file():
        raise DataFormatError(f"domain {domain}: {root} holds no dataset (no {INFO_FILE}); "
                              f"fetch it first: dvc repro fetch@{dataset}")
    info = read_info(root)
    if info.get("kind") != "images":
        raise DataFormatError(f"domain {domain}: {root} holds {info.get('kind')!r} data, not images of one shape")
    names = [str(c) for c in info.get("classes", [])]
    ids = []
    for c in classes:
        if c not in names:
            close = difflib.get_close_matches(c, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ParamsError(f"domains.classes_{domain.lower()}: {dataset} has no class {c!r}{hint}; "
                              f"its classes: {', '.join(names)}")
        ids.append(names.index(c))
    return DomainSource(domain, dataset, root, tuple(classes), tuple(ids), info)


def _pick(labels: np.ndarray, class_ids: tuple[int, ...], n: int, rng: np.random.Generator) -> np.ndarray:
    """n indices of images of ``class_ids``, without replacement, in source order."""
    candidates = np.flatnonzero(np.isin(labels, class_ids))
    return np.sort(rng.choice(candidates, size=n, replace=False))


def build_domains(params: DomainsParams, data_root: str | Path, out: str | Path, seed: int = 0) -> dict[str, Any]:
    """Write the two-domain dataset of ``params`` from the datasets under ``data_root`` into ``out``;
    return its dataset.json."""
    data_root, out = Path(data_root), Path(out)
    sources = [open_source("A", params.source_a, params.classes_a, data_root),
               open_source("B", params.source_b, params.classes_b, data_root)]
    a, b = sources
    if a.info.get("shape") != b.info.get("shape"):
        raise DataFormatError(
            f"domain A ({a.dataset}) has images of shape {a.info.get('shape')} (H, W, C) but domain B ({b.dataset}) "
            f"{b.info.get('shape')}: a translator maps images of one shape; pick sources of the same shape")
    common = [s for s in a.info.get("files", {}) if s in b.info.get("files", {})]
    if "train" not in common:
        raise DataFormatError(f"{a.dataset} and {b.dataset} need a train split each; they share: {', '.join(common) or 'none'}")
    wanted = {"train": params.train_per_domain, "test": params.test_per_domain}
    splits, chosen = {}, {}
    for k, split in enumerate(s for s in ("train", "test") if s in common):
        loaded = [load_images(src.root, split)[0] for src in sources]
        available = [int(np.isin(part.labels, src.class_ids).sum()) for part, src in zip(loaded, sources)]
        for src, count in zip(sources, available):
            if count == 0:
                raise DataFormatError(f"domain {src.domain}: the {split} split of {src.dataset} has no image of "
                                      f"{', '.join(src.classes)}")
        n = wanted[split] or min(available)
        if n > min(available):
            short = sources[int(np.argmin(available))]
            raise ParamsError(f"domains.{split}_per_domain = {n}, but domain {short.domain} ({short.label}) has only "
                              f"{min(available)} {split} images")
        images, labels, ids = [], [], []
        for label, (src, part) in enumerate(zip(sources, loaded)):
            rng = np.random.default_rng([seed, k, label])  # a stream per split and domain
            idx = _pick(part.labels, src.class_ids, n, rng)
            images.append(part.images[idx])
            labels.append(np.full(n, label, dtype=np.int64))
            names = [str(c) for c in src.info["classes"]]
            ids += [f"{src.dataset}:{split}:{i}:{names[part.labels[i]]}" for i in idx]
        splits[split] = ImageSplit(np.concatenate(images), np.concatenate(labels), np.asarray(ids))
        chosen[split] = n
    info = {
        "name": NAME,
        "description": f"unpaired two-domain images: A = {a.label}, B = {b.label}",
        "variant": "derived",
        "official": False,
        "source": {src.domain: {"dataset": src.dataset, "classes": list(src.classes),
                                "dataset_json_sha256": hash_file(src.root / INFO_FILE),
                                "variant": src.info.get("variant"), "sha256": src.info.get("sha256", {})}
                   for src in sources},
        "domain_labels": {"A": 0, "B": 1},
        "per_domain": chosen,
        "seed": seed,
    }
    with atomic_directory(out, INFO_FILE) as tmp:
        summary = write_content(ImageData(splits, [a.label, b.label]), tmp)
        info = {**info, **summary, "ganlab_version": __version__}
        write_json_atomic(tmp / INFO_FILE, info)
    log.info("%s: A = %s, B = %s, %s per domain -> %s", NAME, a.label, b.label,
             ", ".join(f"{s} {n}" for s, n in chosen.items()), out)
    return info
