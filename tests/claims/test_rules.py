"""The verdict rules on made-up per-seed values: each verdict reached exactly where its rule says."""

from __future__ import annotations

import math

import pytest

from ganlab.claims import rules
from ganlab.claims.rules import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, Bound, Exceeds, combine
from ganlab.errors import GanlabError


@pytest.mark.parametrize(("a", "b", "verdict"), [
    ({0: 7, 1: 8, 2: 6}, {0: 2, 1: 3, 2: 1}, REPRODUCED),  # ahead in every seed by 5
    ({0: 7, 1: 2, 2: 9}, {0: 2, 1: 3, 2: 1}, INCONCLUSIVE),  # ahead on average (4), behind in seed 1
    ({0: 3, 1: 4, 2: 3}, {0: 2, 1: 3, 2: 2}, INCONCLUSIVE),  # ahead in every seed, by 1: not above the margin 2
    ({0: 2, 1: 3, 2: 1}, {0: 2, 1: 3, 2: 1}, NOT_REPRODUCED),  # a tie is not ahead
    ({0: 1, 1: 1, 2: 9}, {0: 4, 1: 4, 2: 4}, NOT_REPRODUCED),  # mean difference -1/3 despite the one big seed
])
def test_exceeds_judges_the_paired_differences_over_every_seed(a, b, verdict):
    assert Exceeds(margin=2).judge(a, b)["verdict"] == verdict


def test_exceeds_is_never_decided_by_the_best_seed():
    # one seed far ahead cannot carry the rest: the rule looks at every seed and the mean
    out = Exceeds(margin=0).judge({0: 100, 1: 1, 2: 1}, {0: 1, 1: 2, 2: 2})
    assert out["verdict"] == INCONCLUSIVE and out["differences"] == [99, -1, -1]


def test_lower_is_better_turns_the_comparison_round():
    assert Exceeds(margin=0.5, lower_is_better=True).judge({0: 1, 1: 1}, {0: 2, 1: 3})["verdict"] == REPRODUCED
    assert Exceeds(margin=0.5).judge({0: 1, 1: 1}, {0: 2, 1: 3})["verdict"] == NOT_REPRODUCED


def test_one_seed_is_never_more_than_inconclusive():
    assert Exceeds(margin=0).judge({0: 9}, {0: 1})["verdict"] == INCONCLUSIVE
    assert Bound(1.0).judge({0: 5.0})["verdict"] == INCONCLUSIVE
    assert Bound(1.0).judge({0: 0.0})["verdict"] == INCONCLUSIVE


@pytest.mark.parametrize(("values", "verdict"), [
    ({0: 0.6, 1: 0.7, 2: 0.5}, REPRODUCED),  # every seed >= 0.5
    ({0: 0.6, 1: 0.7, 2: 0.4}, INCONCLUSIVE),  # two of three
    ({0: 0.6, 1: 0.3, 2: 0.4}, NOT_REPRODUCED),  # one of three
    ({0: 0.6, 1: 0.3}, NOT_REPRODUCED),  # half is not most
])
def test_bound_counts_the_seeds_that_meet_it(values, verdict):
    assert Bound(0.5).judge(values)["verdict"] == verdict


def test_bound_below():
    assert Bound(0.05, above=False).judge({0: 0.01, 1: 0.04})["verdict"] == REPRODUCED
    assert Bound(0.05, above=False).judge({0: 0.5, 1: 0.6})["verdict"] == NOT_REPRODUCED


def test_runs_measured_on_different_seeds_or_without_a_value_are_refused():
    with pytest.raises(GanlabError, match="different seeds"):
        Exceeds().judge({0: 1, 1: 2}, {0: 1, 2: 2})
    with pytest.raises(GanlabError, match="seed 1 has no finite value"):
        Bound(0.5).judge({0: 1.0, 1: math.nan})


def test_combine_needs_every_part():
    assert combine([REPRODUCED, REPRODUCED]) == REPRODUCED
    assert combine([REPRODUCED, INCONCLUSIVE]) == INCONCLUSIVE
    assert combine([INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED]) == NOT_REPRODUCED
    with pytest.raises(GanlabError):
        combine([])
    with pytest.raises(GanlabError, match="unknown verdict"):
        combine(["maybe"])


def test_summary_is_the_mean_and_population_std():
    s = rules.summary({0: 1.0, 1: 3.0})
    assert s == {"mean": 2.0, "std": 1.0, "n": 2}
    assert math.isnan(rules.summary({})["mean"])


def test_the_rule_text_says_what_it_checks():
    text = Exceeds(margin=2).text("unrolled", "gan")
    assert "unrolled above gan in every seed" in text and "more than 2" in text and "inconclusive" in text
    assert "<= 0.05" in Bound(0.05, above=False).text("gan")
