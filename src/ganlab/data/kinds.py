"""What kind of data each dataset is, in one place: the kinds ``dataset.json`` records, what a model of
each variant trains on, and the kind of every dataset that a pipeline stage derives (the fetched ones
state theirs in :data:`ganlab.data.sources.DATASETS`).

The params checks ask it which datasets a run may name before any data exist, so it imports neither
torch nor the data modules (which import the params). How each kind is read for training is the
table of :mod:`ganlab.train.data`, keyed by the same kinds; a test keeps the two in step. A new
kind is an entry in :data:`KINDS` and its loader there; a new derived dataset is an entry in
:data:`DERIVED`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ganlab.data.sources import DATASETS
from ganlab.errors import ParamsError

#: ``dataset.json``'s kind -> the ``data_kind`` of the variants that train on it (None: no model does)
KINDS: dict[str, str | None] = {
    "images": "images",  # <split>.npz of uint8 images and labels (ganlab.data.datasets)
    "toy": "images",  # 1-D samples, fed to the model as 1x1x1 images (ganlab.data.toy)
    "toy2d": "images",  # 2-D points of a Gaussian mixture, fed as 2x1x1 images (ganlab.data.toy2d)
    "text": "sequences",  # <split>.txt sentences, encoded as token ids (ganlab.data.text)
    "sequences": "sequences",  # token ids drawn from the oracle LSTM (ganlab.data.oracle)
    "photos": None,  # original photos (lfw): stage faces crops them into an image dataset
}


@dataclass(frozen=True)
class Derived:
    """A dataset that models train on, built by a pipeline stage from other data rather than fetched."""

    kind: str  # what its dataset.json records (a key of KINDS)
    stage: str  # the dvc.yaml stage that writes data/<name>
    #: its images are one distribution that samples are compared with (see :func:`image_distribution`)
    image_distribution: bool = True


#: data/<name> written by the pipeline's stages; face-crops, which only stage dedup reads, is not trained on
DERIVED: dict[str, Derived] = {
    "faces": Derived("images", "dedup"),  # lfw's face crops, near-duplicates removed
    "toy-gaussian": Derived("toy", "toy"),  # the GAN paper's 1-D Figure 1 data
    "toy-ring": Derived("toy2d", "toy"),  # 8 Gaussians on a circle (Unrolled GAN, VEEGAN, PacGAN)
    "toy-grid": Derived("toy2d", "toy"),  # 25 Gaussians on a 5 x 5 grid (VEEGAN, PacGAN)
    # two image domains, labels 0 and 1, for the translation models: runs on it map one half onto the other
    "domains": Derived("images", "domains", image_distribution=False),
    "oracle": Derived("sequences", "oracle"),  # SeqGAN's synthetic benchmark
}


def dataset_names() -> list[str]:
    """Every dataset a run may name, fetched or derived, sorted."""
    return sorted({*DATASETS, *DERIVED})


def dataset_kind(name: str) -> str:
    """The kind of dataset ``name`` (what its dataset.json will record)."""
    if name in DERIVED:
        return DERIVED[name].kind
    if name in DATASETS:
        return DATASETS[name].kind
    raise ParamsError(f"unknown dataset {name!r}; datasets: {', '.join(dataset_names())}")


def datasets_for(data_kind: str) -> list[str]:
    """The datasets that a variant whose ``data_kind`` is ``data_kind`` trains on, sorted."""
    return [name for name in dataset_names() if KINDS[dataset_kind(name)] == data_kind]


def image_distribution(name: str) -> bool:
    """Whether the images of dataset ``name`` are one distribution that a generator's samples are
    compared with: what a metrics reference measures, and what a latent walk walks through. False for
    data that are not images (the toy, text, sequences), for the domain pair, and for unknown names."""
    if name not in DERIVED and name not in DATASETS:
        return False
    return dataset_kind(name) == "images" and (name not in DERIVED or DERIVED[name].image_distribution)
