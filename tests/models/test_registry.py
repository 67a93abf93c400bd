"""The variant registry (ganlab.models.registry): it lists, describes and refuses."""

from __future__ import annotations

import pytest

from ganlab.errors import GanlabError
from ganlab.models import registry


def test_registry_lists_variants_with_descriptions():
    assert {"gan", "dcgan"} <= set(registry.names())
    assert "Radford" in registry.describe("dcgan")
    with pytest.raises(GanlabError, match="unknown variant 'dcgna'; registered: .*dcgan"):
        registry.get("dcgna")


def test_registry_refuses_duplicates_and_non_variants():
    with pytest.raises(ValueError, match="already registered"):
        registry.register("dcgan")(type("Other", (registry.get("gan"),), {"__doc__": "x"}))
    with pytest.raises(TypeError, match="needs a Variant subclass"):
        registry.register("thing")(object)
