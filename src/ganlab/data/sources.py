"""Where every dataset comes from: official URLs, checksums, mirror paths, and its reader.

A dataset has one or more *variants* (the official files, or a re-encoded copy that only a
local mirror holds), listed in order of preference. Each variant names its source files and
the reader that turns them into ganlab's canonical form (see :mod:`ganlab.data.formats`).

Checksums are of the file's bytes, except for gzip'd idx files, whose check is the MD5 of
the *decompressed* bytes: that identifies the data itself, so a mirror that re-compressed
the official files (ours did) passes the same check as a download from the official host.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ganlab.data import formats


@dataclass(frozen=True)
class Checksum:
    algorithm: Literal["md5", "sha256"]
    digest: str
    of: Literal["file", "gunzip"] = "file"  # "gunzip": hash of the decompressed bytes

    def describe(self) -> str:
        what = "decompressed bytes" if self.of == "gunzip" else "file"
        return f"{self.algorithm} of {what} = {self.digest}"


@dataclass(frozen=True)
class SourceFile:
    name: str  # file name in the download cache, and the key the reader receives
    mirror_path: str  # path inside a mirror folder (GANLAB_DATA_MIRROR)
    checksum: Checksum
    urls: tuple[str, ...] = ()  # tried in order; empty for mirror-only copies


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    files: tuple[SourceFile, ...]
    reader: Callable[[Mapping[str, Path]], formats.Content]
    official: bool = True

    @property
    def downloadable(self) -> bool:
        return all(f.urls for f in self.files)


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    kind: Literal["images", "photos", "text"]
    description: str
    homepage: str
    variants: tuple[Variant, ...]  # in order of preference

    @property
    def variant_names(self) -> list[str]:
        return [v.name for v in self.variants]

    def variant(self, name: str) -> Variant:
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(name)


def _idx_files(folder: str, base_urls: tuple[str, ...], gunzip_md5: dict[str, str]) -> tuple[SourceFile, ...]:
    return tuple(
        SourceFile(
            name=f"{stem}.gz",
            mirror_path=f"{folder}/{stem}.gz",
            checksum=Checksum("md5", md5, of="gunzip"),
            urls=tuple(f"{base}{stem}.gz" for base in base_urls),
        )
        for stem, md5 in gunzip_md5.items()
    )


_IDX_SPLITS = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

MNIST = DatasetSpec(
    name="mnist",
    kind="images",
    description="MNIST handwritten digits, 28x28 grey, 60,000 train / 10,000 test",
    homepage="http://yann.lecun.com/exdb/mnist/",
    variants=(
        Variant(
            name="official",
            description="the official idx files",
            files=_idx_files(
                "mnist",
                # LeCun's page often refuses robots; the PyTorch team's copy is byte-identical.
                ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
                {
                    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
                    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
                    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
                    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
                },
            ),
            reader=functools.partial(formats.read_idx_dataset, splits=_IDX_SPLITS, class_names=[str(d) for d in range(10)]),
        ),
    ),
)

FASHION_MNIST = DatasetSpec(
    name="fashion-mnist",
    kind="images",
    description="Fashion-MNIST clothing items, 28x28 grey, 60,000 train / 10,000 test",
    homepage="https://github.com/zalandoresearch/fashion-mnist",
    variants=(
        Variant(
            name="official",
            description="the official idx files",
            files=_idx_files(
                "fashion-mnist",
                ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
                {
                    "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
                    "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
                    "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
                    "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
                },
            ),
            reader=functools.partial(
                formats.read_idx_dataset,
                splits=_IDX_SPLITS,
                class_names=[
                    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
                ],
            ),
        ),
    ),
)

CIFAR10 = DatasetSpec(
    name="cifar10",
    kind="images",
    description="CIFAR-10 natural images, 32x32 colour, 50,000 train / 10,000 test, 10 classes",
    homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
    variants=(
        Variant(
            name="official",
            description="the official python pickle tarball",
            files=(
                SourceFile(
                    name="cifar-10-python.tar.gz",
                    mirror_path="cifar-10-python.tar.gz",
                    checksum=Checksum("md5", "c58f30108f718f92721af3b95e74349a"),
                    urls=("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
                ),
            ),
            reader=functools.partial(formats.read_cifar10_python, member="cifar-10-python.tar.gz"),
        ),
        Variant(
            name="jpeg-q75",
            description="all 60,000 images re-encoded as JPEG quality 75 in an image-folder tree "
            "(lossy: mean abs error 5.8/255); held by local mirrors only",
            files=(
                SourceFile(
                    name="cifar10-jpeg-q75.tar.gz",
                    mirror_path="cifar10-jpeg-q75.tar.gz",
                    checksum=Checksum("sha256", "5bbd2193f3b9982b20b3e62de1fcb9691706d5884e1bfe2840596f4c5f9b9bec"),
                ),
            ),
            reader=functools.partial(formats.read_image_folder_dataset, member="cifar10-jpeg-q75.tar.gz"),
            official=False,
        ),
    ),
)

LFW = DatasetSpec(
    name="lfw",
    kind="photos",
    description="Labeled Faces in the Wild: 250x250 photos of people, one folder per person",
    homepage="https://vis-www.cs.umass.edu/lfw/",
    variants=(
        Variant(
            name="official",
            description="the official lfw.tgz: 13,233 colour photos of 5,749 people",
            files=(
                SourceFile(
                    name="lfw.tgz",
                    mirror_path="lfw.tgz",
                    checksum=Checksum("md5", "a17d05bd522c52d84eca14327a23d494"),
                    urls=("http://vis-www.cs.umass.edu/lfw/lfw.tgz",),
                ),
            ),
            reader=functools.partial(formats.read_photo_folder_dataset, member="lfw.tgz"),
        ),
        Variant(
            name="gray-subset",
            description="3,823 grey photos of 1,719 people from LFW; held by local mirrors only",
            files=(
                SourceFile(
                    name="lfw-gray-subset.tar.gz",
                    mirror_path="lfw-gray-subset.tar.gz",
                    checksum=Checksum("sha256", "32e3c9a93738f47e79d6a0018157bac009817e8747ce653a6d8b2b38f10c6366"),
                ),
            ),
            reader=functools.partial(formats.read_photo_folder_dataset, member="lfw-gray-subset.tar.gz"),
            official=False,
        ),
    ),
)

_TEXYGEN = "https://raw.githubusercontent.com/geek-ai/Texygen/master/data/"

COCO_CAPTIONS = DatasetSpec(
    name="coco-captions",
    kind="text",
    description="10,000 + 10,000 lower-cased COCO image captions, the sequence-GAN benchmark text (Texygen)",
    homepage="https://github.com/geek-ai/Texygen",
    variants=(
        Variant(
            name="official",
            description="Texygen's image_coco train and test files, one caption a line",
            files=(
                SourceFile(
                    name="image_coco_train.txt",
                    mirror_path="text/image_coco_train.txt",
                    checksum=Checksum("sha256", "2c0fd1f0f43aac6a9dc3926a535516ccf395de535e15ac1fd17cd569420736f5"),
                    urls=(_TEXYGEN + "image_coco.txt",),
                ),
                SourceFile(
                    name="image_coco_test.txt",
                    mirror_path="text/image_coco_test.txt",
                    checksum=Checksum("sha256", "72e25c9fb4d2cd43182ac602c92f6ffc377762147f9709572943b0b09174bcae"),
                    urls=(_TEXYGEN + "testdata/test_coco.txt",),
                ),
            ),
            reader=functools.partial(
                formats.read_text_dataset, splits={"train": "image_coco_train.txt", "test": "image_coco_test.txt"}
            ),
        ),
    ),
)

DATASETS: dict[str, DatasetSpec] = {d.name: d for d in (MNIST, FASHION_MNIST, CIFAR10, LFW, COCO_CAPTIONS)}
