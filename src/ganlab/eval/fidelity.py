"""ganlab's extractors as torch-fidelity sees them: the evaluator network in its registry, and its
Inception-v3 built from local weights.

Imported only where torch-fidelity itself is needed: building Inception-v3, or checking ganlab's
numbers against ``torch_fidelity.calculate_metrics`` (the tests and benchmarks/metrics_speed.py).
Importing torch-fidelity imports torchvision and, through it, torch._dynamo: about 1.9 s of each
metrics stage's start-up when the evaluator measures (benchmarks/stage_startup.py), which is why
ganlab.eval.extractors and ganlab.eval.metrics do not import this module at the top.
"""

from __future__ import annotations

from typing import Any

import torch
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor
from torch_fidelity.utils import create_feature_extractor

from ganlab.errors import GanlabError
from ganlab.eval.extractors import EVALUATOR, EvaluatorFeatures, Extractor, ExtractorUnavailable


class FeatureExtractorEvaluator(FeatureExtractorBase):
    """torch-fidelity's view of an evaluator network (:class:`ganlab.eval.extractors.EvaluatorFeatures`):
    uint8 (B, C, H, W) -> its penultimate features (``features``, for FID/KID/PR) and its class logits
    (``logits``, for the Inception Score).

    Built by torch-fidelity from the registry with ``feature_extractor_weights_path`` naming the
    evaluator's weights file; images must already have the evaluator's channels and size.
    """

    def __init__(self, name: str, features_list: list[str], feature_extractor_weights_path: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(name, features_list)
        if feature_extractor_weights_path is None:
            raise ExtractorUnavailable(f"feature extractor {name!r} needs feature_extractor_weights_path: "
                                       "the evaluator's weights file")
        self.features = EvaluatorFeatures(feature_extractor_weights_path, features_list)

    @staticmethod
    def get_provided_features_list() -> tuple[str, ...]:
        return EvaluatorFeatures.PROVIDED

    @staticmethod
    def get_default_feature_layer_for_metric(metric: str) -> str:
        return EvaluatorFeatures.LAYER_FOR_METRIC[metric]

    @staticmethod
    def can_be_compiled() -> bool:
        return False

    @staticmethod
    def get_dummy_input_for_compile() -> torch.Tensor:
        return torch.zeros(1, 1, 28, 28, dtype=torch.uint8)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.features(x)


def register() -> None:
    """Register the evaluator with torch-fidelity (once; refuses a different class under its name)."""
    existing = FEATURE_EXTRACTORS_REGISTRY.get(EVALUATOR)
    if existing is None:
        register_feature_extractor(EVALUATOR, FeatureExtractorEvaluator)
    elif existing is not FeatureExtractorEvaluator:
        raise GanlabError(f"torch-fidelity already has a feature extractor named {EVALUATOR!r}: "
                          f"{existing.__module__}.{existing.__qualname__}")


register()


def create(extractor: Extractor) -> FeatureExtractorBase:
    """``extractor``'s network as torch-fidelity's registry builds it (its feature names, its weights file)."""
    return create_feature_extractor(extractor.name, extractor.feature_names(), cuda=False,
                                    feature_extractor_weights_path=str(extractor.weights), verbose=False)


def calculate_metrics_kwargs(extractor: Extractor) -> dict[str, Any]:
    """The choice of ``extractor`` as keyword arguments of ``torch_fidelity.calculate_metrics``."""
    return {"feature_extractor": extractor.name, "feature_extractor_weights_path": str(extractor.weights),
            **{f"feature_layer_{metric}": layer for metric, layer in extractor.layers.items()}}
