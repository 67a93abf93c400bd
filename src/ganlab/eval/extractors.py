"""The feature extractors of the metrics: the field's Inception-v3 (torch-fidelity's, when its weights
are on this machine) and a dataset's evaluator network (ganlab.eval.evaluator).

Which network measures a number is an explicit choice (:func:`get_extractor`). When Inception-v3
is asked for and its weights are not here, :func:`find_inception_weights` says why and where it
looked; it never downloads and never falls back to the evaluator. The chosen extractor's name,
weights sha256, input size and resize go into the protocol of every metric (:meth:`Extractor.protocol`).

The evaluator runs as plain torch (:class:`EvaluatorFeatures`); torch-fidelity, which imports
torchvision, is imported only to build Inception-v3, or to check ganlab's numbers against it
(ganlab.eval.fidelity registers the evaluator in its registry).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganlab.errors import GanlabError
from ganlab.eval.evaluator import LAYOUT, load_evaluator
from ganlab.files import hash_file
from ganlab.images import RESIZE, resize_images, to_unit_range

INCEPTION = "inception-v3-compat"  # torch-fidelity's name: the TF 2015-12-05 graph, with TF1.x resizing
EVALUATOR = "ganlab-evaluator"
KINDS = (INCEPTION, "evaluator")
METRIC_KEYS = ("isc", "fid", "kid", "prc")  # torch-fidelity's names of the metrics that read features

#: torch-fidelity's Inception-v3 weights (its URL_INCEPTION_V3; tests/eval/test_extractors.py checks they agree)
URL_INCEPTION_V3 = ("https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
                    "weights-inception-2015-12-05-6726825d.pth")
INCEPTION_INPUT = 299  # its FeatureExtractorInceptionV3.INPUT_IMAGE_SIZE (checked likewise)
#: torch-fidelity's weights file, as torch.hub names it in its cache: <name>-<sha256 prefix>.pth
INCEPTION_FILE = os.path.basename(URL_INCEPTION_V3)
INCEPTION_SHA256_PREFIX = re.search(r"-([0-9a-f]{6,})\.pth$", INCEPTION_FILE).group(1)  # type: ignore[union-attr]


class ExtractorUnavailable(GanlabError):
    """The feature extractor asked for cannot be built here (weights missing or not the expected file)."""


class EvaluatorFeatures(nn.Module):
    """An evaluator network as a feature extractor: uint8 (B, C, H, W) -> the requested outputs, in
    ``features_list``'s order, of its penultimate features (``features``, for FID/KID/PR) and its
    class logits (``logits``, for the Inception Score). Images must already have the evaluator's
    channels and size. In eval mode, without gradients."""

    PROVIDED = ("features", "logits")
    LAYER_FOR_METRIC = {"isc": "logits", "fid": "features", "kid": "features", "prc": "features"}

    def __init__(self, weights: str | Path, features_list: list[str] | tuple[str, ...]) -> None:
        super().__init__()
        unknown = sorted(set(features_list) - set(self.PROVIDED))
        if unknown or not features_list:
            raise GanlabError(f"the evaluator provides {', '.join(self.PROVIDED)}; asked for {list(features_list)}")
        self.features_list = tuple(features_list)
        self.net = load_evaluator(weights).net.eval().requires_grad_(False)
        self.arch = dict(self.net.arch)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        c, s = self.arch["channels"], self.arch["size"]
        if not (torch.is_tensor(x) and x.dtype == torch.uint8 and x.dim() == 4 and tuple(x.shape[1:]) == (c, s, s)):
            shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
            raise GanlabError(f"the evaluator takes uint8 images of shape (B, {c}, {s}, {s}); got {shape}")
        features, logits = self.net(to_unit_range(x, LAYOUT))
        out = {"features": features, "logits": logits}
        return tuple(out[name].float() for name in self.features_list)


# --------------------------------------------------------------------------- the chosen extractor


@dataclass(frozen=True)
class Extractor:
    """One feature extractor with its weights: what the metrics need to build it and to say how
    they measured."""

    name: str  # torch-fidelity's registry name
    weights: Path
    weights_sha256: str
    channels: int  # channels the network takes; grey images are repeated to 3 for Inception-v3
    network_input: int  # side of the images the network sees
    image_size: int | None  # side the images must have; None: any (resized inside the network)
    resize: str
    trained_on: str
    layers: dict[str, str] = field(default_factory=dict)  # metric (isc, fid, kid, prc) -> feature name
    class_names: tuple[str, ...] = ()  # the evaluator's classes; () for Inception-v3's 1008 ImageNet outputs

    def protocol(self) -> dict[str, Any]:
        return {
            "extractor": self.name,
            "extractor_weights": self.weights.name,
            "extractor_weights_sha256": self.weights_sha256,
            "extractor_trained_on": self.trained_on,
            "feature_layers": dict(self.layers),
            "input_size": [self.network_input, self.network_input],
            "resize": self.resize,
        }

    def feature_names(self) -> list[str]:
        """The outputs the metrics read, in the order :meth:`create`'s module returns them."""
        return sorted(set(self.layers.values()))

    def create(self, device: str | torch.device = "cpu") -> nn.Module:
        """The network, in eval mode on ``device``: uint8 images -> a tuple of :meth:`feature_names`' outputs.
        The evaluator is plain torch; Inception-v3 is torch-fidelity's module, built through its registry."""
        if hash_file(self.weights) != self.weights_sha256:  # the protocol must name the weights used
            raise ExtractorUnavailable(f"{self.weights} changed since it was chosen (sha256 was {self.weights_sha256})")
        try:
            if self.name == EVALUATOR:
                module: nn.Module = EvaluatorFeatures(self.weights, self.feature_names())
            else:  # torch-fidelity imports torchvision: only for Inception-v3
                from torch_fidelity.utils import create_feature_extractor
                module = create_feature_extractor(self.name, self.feature_names(), cuda=False,
                                                  feature_extractor_weights_path=str(self.weights), verbose=False)
        except (RuntimeError, KeyError) as exc:  # a state dict that does not fit the network
            raise ExtractorUnavailable(f"{self.weights}: not weights of {self.name} ({exc})") from None
        return module.eval().to(device)

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, C, H, W) images as this network takes them: grey repeated to RGB for
        Inception-v3; the evaluator's own channels and size, or an error naming the mismatch."""
        n, c, h, w = images.shape
        if c == 1 and self.channels == 3:
            images = images.expand(n, 3, h, w)
        elif c == 3 and self.channels == 1:
            if not (torch.equal(images[:, 0], images[:, 1]) and torch.equal(images[:, 0], images[:, 2])):
                raise GanlabError(f"{self.name} ({self.trained_on}) takes grey images; got colour images")
            images = images[:, :1]
        elif c != self.channels:
            raise GanlabError(f"{self.name} takes {self.channels}-channel images; got {c} channels")
        if self.image_size is not None and (h, w) != (self.image_size, self.image_size):
            raise GanlabError(f"{self.name} ({self.trained_on}) takes {self.image_size}x{self.image_size} images "
                              f"and resizes nothing; got {h}x{w}")
        return images


def adapt_images(images: torch.Tensor, channels: int, size: int) -> tuple[torch.Tensor, str]:
    """uint8 (N, C, H, W) images converted to ``channels`` and ``size`` x ``size``, for an
    evaluator trained on another dataset (faces measured by the CIFAR-10 evaluator, as the field
    measures faces with an ImageNet network); returns the images and what was done ('' = nothing),
    which the protocol of every number must carry.

    Grey is repeated to RGB; RGB becomes grey by ITU-R BT.601 luma; sizes change by
    :func:`ganlab.images.resize_images` (bilinear with antialiasing, rounded to uint8).
    """
    if images.dtype != torch.uint8 or images.dim() != 4:
        raise GanlabError(f"expected uint8 images (N, C, H, W); got {images.dtype} {tuple(images.shape)}")
    n, c, h, w = images.shape
    done = []
    if c != channels:
        if c == 1 and channels == 3:
            images = images.expand(n, 3, h, w)
            done.append("grey repeated to RGB")
        elif c == 3 and channels == 1:
            luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
            images = (images.float() * luma).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
            done.append("RGB to grey (BT.601 luma)")
        else:
            raise GanlabError(f"cannot turn {c}-channel images into {channels}-channel ones")
    if (h, w) != (size, size):
        images = resize_images(images, size)
        done.append(f"{h}x{w} resized to {size}x{size} ({RESIZE})")
    return images.contiguous(), "; ".join(done)


def inception_cache_path() -> Path:
    """Where torch-fidelity's download lands (torch.hub's cache, which TORCH_HOME moves)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE


def find_inception_weights(path: str | Path | None = None, check_hash: bool = True) -> Path:
    """The Inception-v3 weights to use: ``path`` when given, else torch-fidelity's cached download.

    Never downloads. Raises :class:`ExtractorUnavailable` saying why when there is no file, or
    when (``check_hash``) its sha256 does not begin with the prefix that torch-fidelity's file
    name carries: a partial download or another network's weights would give numbers that are
    not the standard's.
    """
    if path is not None:
        where = Path(path)
        if not where.is_file():
            raise ExtractorUnavailable(f"Inception-v3 weights: {where} is not a file")
    else:
        where = inception_cache_path()
        if not where.is_file():
            raise ExtractorUnavailable(
                f"Inception-v3 weights are not in torch-fidelity's cache ({where}) and this machine does not download "
                f"them; copy {INCEPTION_FILE} (from {URL_INCEPTION_V3}) there or pass its path, or choose the "
                f"evaluator extractor")
    if check_hash:
        sha = hash_file(where)
        if not sha.startswith(INCEPTION_SHA256_PREFIX):
            raise ExtractorUnavailable(
                f"Inception-v3 weights: {where} has sha256 {sha}, which does not begin with "
                f"{INCEPTION_SHA256_PREFIX} as torch-fidelity's {INCEPTION_FILE} does (a partial download, or other "
                f"weights); its numbers would not be comparable with the standard's")
    return where


def inception_status(path: str | Path | None = None) -> tuple[Path | None, str]:
    """(weights file, "found ...") when Inception-v3 can be used here, else (None, why not)."""
    try:
        found = find_inception_weights(path)
    except ExtractorUnavailable as exc:
        return None, str(exc)
    return found, f"Inception-v3 weights found at {found}"


def inception_extractor(weights: str | Path | None = None, check_hash: bool = True) -> Extractor:
    """torch-fidelity's ``inception-v3-compat`` with local weights (see :func:`find_inception_weights`)."""
    path = find_inception_weights(weights, check_hash)
    try:  # torch-fidelity loads with weights_only=False; refuse a file that is more than tensors first
        torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is reported the same way
        raise ExtractorUnavailable(f"Inception-v3 weights: {path} is not a plain state dict ({exc})") from None
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3  # only for Inception-v3
    size = INCEPTION_INPUT
    layers = {m: FeatureExtractorInceptionV3.get_default_feature_layer_for_metric(m) for m in METRIC_KEYS}
    return Extractor(
        name=INCEPTION, weights=path, weights_sha256=hash_file(path), channels=3, network_input=size,
        image_size=None, layers=layers, trained_on="ImageNet (TensorFlow Inception-v3 graph of 2015-12-05)",
        resize=f"bilinear to {size}x{size} inside the network, as TensorFlow 1.x resizes; grey repeated to RGB",
    )


def evaluator_extractor(weights: str | Path) -> Extractor:
    """The evaluator network in ``weights`` (its provenance JSON beside it must match)."""
    path = Path(weights)
    evaluator = load_evaluator(path)
    arch, info = evaluator.net.arch, evaluator.info
    trained_on = f"{info.get('dataset') or 'unknown dataset'} train split"
    if info.get("data_fingerprint"):
        trained_on += f" (data {info['data_fingerprint']})"
    if "test_accuracy" in info:
        trained_on += f", test accuracy {info['test_accuracy']:.4f}"
    layers = {m: EvaluatorFeatures.LAYER_FOR_METRIC[m] for m in METRIC_KEYS}
    return Extractor(
        name=EVALUATOR, weights=path, weights_sha256=info["weights_sha256"], channels=arch["channels"],
        network_input=arch["size"], image_size=arch["size"], layers=layers, trained_on=trained_on,
        resize="none: images must have the evaluator's training size",
        class_names=tuple(evaluator.class_names),
    )


def get_extractor(kind: str, weights: str | Path | None = None) -> Extractor:
    """The extractor named by ``kind``: ``inception-v3-compat`` (``weights`` a local file, or None for
    torch-fidelity's cache) or ``evaluator`` (``weights`` its file, required). No fallback."""
    if kind == INCEPTION:
        return inception_extractor(weights)
    if kind in ("evaluator", EVALUATOR):
        if weights is None:
            raise ExtractorUnavailable("the evaluator extractor needs its weights file (ganlab.eval.evaluator)")
        return evaluator_extractor(weights)
    raise GanlabError(f"feature extractor {kind!r}: choose one of {', '.join(KINDS)}")
