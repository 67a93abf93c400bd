"""The data sections of params.yaml: ``data:``, ``faces:``, ``dedup:``, ``toy:``, ``toy2d:``, ``oracle:``,
``domains:``.

Each section lives here, beside the data code that reads it (ganlab.data.fetch, faces, dedup, toy, toy2d,
oracle, domains), and ganlab.params only assembles them. Torch-free (the checks need only the
source registry, ganlab.data.sources), so validating a params file never loads torch for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ganlab.data import kinds
from ganlab.errors import ParamsError
from ganlab.schema import cut, hp, join, shown



@dataclass(frozen=True)
class DatasetParams:
    """How to obtain one dataset (``data.<name>`` in params.yaml)."""

    variant: str = hp(
        "auto",
        "which copy: auto = an official file in the mirror, else a mirror variant, else the network",
    )


@dataclass(frozen=True)
class FacesParams:
    """Face detection and cropping (``faces:``); see ganlab.data.faces."""

    cascade: str = hp("haarcascade_frontalface_default.xml", "OpenCV's bundled cascade file, or a path")
    confirm_cascade: str = hp("", "a second cascade that must fire inside each box; '' = none")
    scale_factor: float = hp(1.1, "image pyramid step of the detector", min=1.01, max=2.0)
    min_neighbors: int = hp(5, "overlapping detections a face needs", min=0, max=100)
    min_face: int = hp(40, "smallest face side in pixels", min=8, max=4096)
    margin: float = hp(0.2, "context added around the box on each side, as a fraction of its side", min=0.0, max=2.0)
    size: int = hp(64, "side of the saved square crops", min=8, max=1024)
    test_fraction: float = hp(0.1, "share of people held out as the test split", min=0.0, max=0.9)


HASH_METHODS = ("phash", "dhash", "whash", "ahash")
CONFIRM_METHODS = ("ncc", "dhash", "phash", "none")


@dataclass(frozen=True)
class DedupParams:
    """Near-duplicate removal (``dedup:``); see ganlab.data.dedup."""

    hash: str = hp("phash", "perceptual hash", choices=HASH_METHODS)
    hash_size: int = hp(8, "hash side: hash_size**2 bits", min=4, max=32)
    threshold: int = hp(16, "Hamming distance for a candidate pair", min=0, max=1024)
    confirm: str = hp("ncc", "independent check of each candidate pair", choices=CONFIRM_METHODS)
    min_correlation: float = hp(0.94, "ncc: least correlation of a confirmed pair", min=-1.0, max=1.0)
    confirm_threshold: int = hp(12, "dhash/phash confirm: Hamming distance of a confirmed pair", min=0, max=1024)
    drop_leaked: bool = hp(True, "drop training images that have a near duplicate in the eval set")
    gallery_clusters: int = hp(12, "clusters shown in gallery.png", min=0, max=200)

    def __post_init__(self) -> None:
        if self.threshold > self.hash_size**2:
            raise ParamsError(f"threshold = {self.threshold} exceeds the {self.hash_size**2} bits of a hash_size {self.hash_size} hash")


@dataclass(frozen=True)
class ToyParams:
    """The 1-D toy data of the GAN paper's Figure 1 (``toy:``; stage toy -> data/toy-gaussian)."""

    mu: float = hp(4.0, "mean of the data distribution N(mu, sigma)", min=-1e6, max=1e6)
    sigma: float = hp(1.25, "its standard deviation", min=1e-6, max=1e6)
    n: int = hp(10000, "samples drawn", min=2, max=10**8)


@dataclass(frozen=True)
class RingParams:
    """The ring (``toy2d.ring``; data/toy-ring): equal Gaussians whose means are evenly spaced on a circle."""

    modes: int = hp(8, "Gaussians on the circle (Unrolled GAN, VEEGAN, PacGAN: 8)", min=2, max=10000)
    radius: float = hp(2.0, "radius of the circle of means (Unrolled GAN: 2; PacGAN's code draws the same ring "
                       "halved, radius 1 with std 0.01)", min=1e-6, max=1e6)
    std: float = hp(0.02, "standard deviation of each Gaussian, per coordinate (Unrolled GAN: 0.02)",
                    min=1e-9, max=1e6)
    n: int = hp(100000, "points drawn, each from a mode chosen uniformly (PacGAN's code: 100,000)",
                min=1, max=10**8)


@dataclass(frozen=True)
class GridParams:
    """The grid (``toy2d.grid``; data/toy-grid): equal Gaussians on a square lattice centred on the origin."""

    side: int = hp(5, "Gaussians per row and per column, side**2 in all (VEEGAN, PacGAN: 5 x 5 = 25)",
                   min=1, max=100)
    spacing: float = hp(2.0, "distance between neighbouring means (PacGAN's code: means at -4, -2, 0, 2, 4 on "
                        "each axis)", min=1e-6, max=1e6)
    std: float = hp(0.05, "standard deviation of each Gaussian, per coordinate (PacGAN: variance 0.0025)",
                    min=1e-9, max=1e6)
    n: int = hp(100000, "points drawn, each from a mode chosen uniformly (PacGAN's code: 100,000)",
                min=1, max=10**8)


@dataclass(frozen=True)
class ModesProtocolParams:
    """How a generator of the 2-D toys is scored (``toy2d.protocol``), recorded in each dataset's
    dataset.json so that a run on it is scored the way the data say (ganlab.eval.modes)."""

    samples: int = hp(2500, "generated points scored (VEEGAN and PacGAN: 2,500)", min=1, max=10**7)
    quality_stds: float = hp(3.0, "a point is high quality within this many standard deviations of its nearest "
                             "mode (VEEGAN, PacGAN: 3)", min=1e-6, max=1e6)
    min_samples: int = hp(1, "high-quality points a mode needs to count as covered (VEEGAN: at least one; "
                          "PacGAN's code counts the modes with any)", min=1, max=10**7)


@dataclass(frozen=True)
class Toy2dParams:
    """The 2-D mixtures of the mode-collapse literature (``toy2d:``; stage toy -> data/toy-ring, data/toy-grid):
    Metz et al. 2017 (Unrolled GAN), Srivastava et al. 2017 (VEEGAN), Lin et al. 2018 (PacGAN)."""

    ring: RingParams = hp(RingParams(), "8 Gaussians on a circle")
    grid: GridParams = hp(GridParams(), "25 Gaussians on a 5 x 5 grid")
    protocol: ModesProtocolParams = hp(ModesProtocolParams(), "how a generator of either is scored")


@dataclass(frozen=True)
class OracleParams:
    """SeqGAN's synthetic oracle (``oracle:``; stage oracle -> data/oracle): a random LSTM and its samples."""

    vocab: int = hp(5000, "vocabulary size (SeqGAN: 5,000)", min=2, max=65535)
    length: int = hp(20, "tokens per sequence (SeqGAN: 20)", min=2, max=10000)
    embed: int = hp(32, "embedding size of the oracle LSTM (SeqGAN: 32)", min=1, max=4096)
    hidden: int = hp(32, "hidden size of the oracle LSTM (SeqGAN: 32)", min=1, max=4096)
    n_train: int = hp(10000, "training sequences drawn from the oracle (SeqGAN: 10,000)", min=1, max=10**8)
    seed: int = hp(0, "the oracle's own seed: a sweep over the global seed keeps the benchmark fixed",
                   min=0, max=2**31 - 1)


@dataclass(frozen=True)
class DomainsParams:
    """The unpaired two-domain dataset of the translation models (``domains:``; stage domains -> data/domains).

    Domain A (label 0) is ``classes_a`` of dataset ``source_a``, domain B (label 1) ``classes_b`` of
    ``source_b``; both sources must have one image shape. See ganlab.data.domains."""

    source_a: str = hp("mnist", "image dataset (a fetched one, or faces) that domain A, label 0, is drawn from")
    classes_a: tuple[str, ...] = hp(("0", "1"), "the classes of source_a, by name, that make up domain A")
    source_b: str = hp("fashion-mnist", "image dataset that domain B, label 1, is drawn from; same image shape as A")
    classes_b: tuple[str, ...] = hp(("Bag", "Trouser"), "the classes of source_b, by name, that make up domain B")
    train_per_domain: int = hp(0, "training images of each domain (equal counts); 0 = all that the smaller domain has",
                               min=0, max=10**8)
    test_per_domain: int = hp(0, "test images of each domain, likewise", min=0, max=10**8)

    def __post_init__(self) -> None:
        for side in ("a", "b"):
            classes = getattr(self, f"classes_{side}")
            if not classes:
                raise ParamsError(f"classes_{side} is empty; name at least one class of {getattr(self, f'source_{side}')}")
            twice = sorted({c for c in classes if classes.count(c) > 1})
            if twice:
                raise ParamsError(f"classes_{side} names {cut(', '.join(map(shown, twice)))} more than once")
        shared = sorted(set(self.classes_a) & set(self.classes_b))
        if self.source_a == self.source_b and shared:
            raise ParamsError(f"domains A and B both take class {cut(', '.join(map(shown, shared)))} of {self.source_a}: "
                              "the two domains must not share images")

    @staticmethod
    def __check__(values: dict[str, Any], where: str) -> None:
        """The sources must be image datasets ganlab can build, each one distribution of images."""
        allowed = [n for n in kinds.dataset_names() if kinds.image_distribution(n)]
        for side in ("a", "b"):
            source = values.get(f"source_{side}", getattr(DomainsParams, f"source_{side}"))
            if source not in allowed:
                raise ParamsError(f"{join(where, f'source_{side}')} = {shown(source)} is not an image dataset; "
                                  f"choose one of: {', '.join(allowed)}")
