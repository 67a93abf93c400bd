"""Rules that turn per-seed measurements into a verdict: ``reproduced``, ``not reproduced`` or ``inconclusive``.

A rule is fixed in code before any run it judges, and is applied to the whole distribution over
seeds: to every seed (or to their mean), never to the best one. Each rule says what it checks in
plain words (:meth:`Rule.text`), and that sentence is written beside the verdict.

The rules compare per-seed values, ``{seed: value}``; a comparison of two runs pairs them by seed (the
same seed gives both runs the same data order and noise draws where their code allows it). With fewer
seeds than :data:`MIN_SEEDS` no rule says more than ``inconclusive``: one seed shows what can happen,
not what does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import fmean
from typing import Mapping

from ganlab.errors import GanlabError

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced", "not reproduced", "inconclusive"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE)
#: a verdict as a number, for `dvc metrics show` and `dvc exp show` (which show numbers, not words)
VERDICT_CODES = {REPRODUCED: 1, INCONCLUSIVE: 0, NOT_REPRODUCED: -1}
MIN_SEEDS = 2  # below this every rule answers "inconclusive"

Values = Mapping[int, float]


def summary(values: Values) -> dict[str, float]:
    """Mean and population standard deviation of per-seed values (NaN where there are none)."""
    v = [float(x) for x in values.values()]
    if not v:
        return {"mean": math.nan, "std": math.nan, "n": 0}
    mean = math.fsum(v) / len(v)
    return {"mean": mean, "std": math.sqrt(math.fsum((x - mean) ** 2 for x in v) / len(v)), "n": len(v)}


def _check(values: Values, what: str) -> list[float]:
    v = [float(x) for x in values.values()]
    bad = [s for s, x in values.items() if not math.isfinite(float(x))]
    if bad:
        raise GanlabError(f"{what}: seed {bad[0]} has no finite value ({values[bad[0]]}); a rule cannot judge it")
    return v


def _paired(a: Values, b: Values, what: str) -> list[float]:
    if set(a) != set(b):
        raise GanlabError(f"{what}: the two runs were measured on different seeds ({sorted(a)} against {sorted(b)})")
    _check(a, what)
    _check(b, what)
    return [float(a[s]) - float(b[s]) for s in sorted(a)]


@dataclass(frozen=True)
class Rule:
    """Base of the rules: ``judge`` returns the verdict and the numbers it looked at."""

    def text(self, a: str, b: str = "") -> str:  # pragma: no cover - every rule overrides it
        raise NotImplementedError

    @staticmethod
    def _few(n: int) -> bool:
        return n < MIN_SEEDS


@dataclass(frozen=True)
class Exceeds(Rule):
    """Run A's measure exceeds run B's: paired by seed, d_s = a_s - b_s.

    reproduced: d_s > 0 in every seed and mean(d) > ``margin``; not reproduced: mean(d) <= 0;
    inconclusive otherwise (A ahead on average but not in every seed, or by less than the margin).
    ``lower_is_better`` turns it round (d_s = b_s - a_s)."""

    margin: float = 0.0
    lower_is_better: bool = False

    def text(self, a: str, b: str = "") -> str:
        than = "below" if self.lower_is_better else "above"
        return (f"{a} {than} {b} in every seed, and by more than {self.margin:g} on average over the seeds "
                f"(reproduced); not {than} on average (not reproduced); else inconclusive; fewer than "
                f"{MIN_SEEDS} seeds: inconclusive")

    def judge(self, a: Values, b: Values, what: str = "rule") -> dict[str, object]:
        d = _paired(a, b, what)
        if self.lower_is_better:
            d = [-x for x in d]
        mean = fmean(d) if d else math.nan
        if self._few(len(d)):
            verdict = INCONCLUSIVE
        elif all(x > 0 for x in d) and mean > self.margin:
            verdict = REPRODUCED
        elif mean <= 0:
            verdict = NOT_REPRODUCED
        else:
            verdict = INCONCLUSIVE
        return {"verdict": verdict, "differences": d, "mean_difference": mean}


@dataclass(frozen=True)
class Bound(Rule):
    """One run's measure against a fixed bound: ``value >= bound`` (``above``) or ``value <= bound``.

    reproduced: every seed meets it; not reproduced: most seeds (more than half) miss it; inconclusive
    otherwise."""

    bound: float
    above: bool = True

    def text(self, a: str, b: str = "") -> str:
        sign = ">=" if self.above else "<="
        return (f"{a} {sign} {self.bound:g} in every seed (reproduced); in at most half of them (not reproduced); "
                f"else inconclusive; fewer than {MIN_SEEDS} seeds: inconclusive")

    def judge(self, a: Values, b: Values | None = None, what: str = "rule") -> dict[str, object]:
        v = _check(a, what)
        meets = [x >= self.bound if self.above else x <= self.bound for x in v]
        if self._few(len(v)):
            verdict = INCONCLUSIVE
        elif all(meets):
            verdict = REPRODUCED
        elif sum(meets) * 2 <= len(meets):
            verdict = NOT_REPRODUCED
        else:
            verdict = INCONCLUSIVE
        return {"verdict": verdict, "meets": meets}


def combine(verdicts: list[str]) -> str:
    """The verdict of a claim made of several parts, each judged by its own rule: reproduced when every
    part is, not reproduced when any part is not, inconclusive otherwise."""
    if not verdicts:
        raise GanlabError("a claim needs at least one judged part")
    unknown = [v for v in verdicts if v not in VERDICTS]
    if unknown:
        raise GanlabError(f"unknown verdict {unknown[0]!r}; verdicts: {', '.join(VERDICTS)}")
    if all(v == REPRODUCED for v in verdicts):
        return REPRODUCED
    if any(v == NOT_REPRODUCED for v in verdicts):
        return NOT_REPRODUCED
    return INCONCLUSIVE
