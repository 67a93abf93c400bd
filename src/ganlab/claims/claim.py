"""A paper's claim as a measured verdict: what it says, what measures it, and the rule stated before the runs.

A :class:`Claim` is registered in code (``@claim``) with its citation, the paper's statement and number,
the study whose runs it compares, its **measure** (a function from the study's trained runs to per-run,
per-seed values and whatever its figure needs) and its **parts**: each part compares two runs (or one run
against a bound) on one measure by a rule of :mod:`ganlab.claims.rules`. The claim's verdict combines
the parts' (every part reproduced: reproduced; any part not: not reproduced). Stage claim@<claim>
(:func:`ganlab.claims.verdict.write_claim`) writes ``reports/claims/<claim>.json`` and its figure.

The rules and parts live in code, committed before the runs they judge; the seeds come from params. The
published numbers travel in a table of their own (``published``), never mixed with ours.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganlab.claims import rules
from ganlab.claims.config import ClaimsParams


@dataclass(frozen=True)
class Part:
    """One judged comparison: ``measure`` of run ``a`` against run ``b`` (or against the rule's bound)."""

    measure: str
    a: str
    rule: rules.Exceeds | rules.Bound
    b: str = ""

    def text(self) -> str:
        return f"{self.measure}: " + self.rule.text(self.a, self.b)


@dataclass
class Measured:
    """What a claim's measure returns: values[measure][run][seed], how they were taken, and the figure's data."""

    values: dict[str, dict[str, dict[int, float]]]
    protocol: dict[str, Any]
    figure_data: Any = None


@dataclass(frozen=True)
class Claim:
    """A paper's claim, its measure and its rule (see the module docstring)."""

    id: str
    title: str
    paper: str  # the citation
    statement: str  # what the paper says, in our words
    study: str  # the study whose runs it compares ('' when the claim's stage trains what it measures itself)
    measures: dict[str, str]  # measure -> what it is
    parts: tuple[Part, ...]
    measure: Callable[[ClaimsParams, Path, Path], Measured]  # (params, study folder, data root) -> Measured
    figure: Callable[[Measured, Path], None]  # draws the claim's figure into a PNG path
    #: the papers' own numbers, quoted: rows of {source, setting, method, measure, value}
    published: tuple[dict[str, Any], ...] = ()
    notes: str = ""  # what a reader should know to read the verdict (a CPU-scale cut, a deviation)
    runs: tuple[str, ...] = field(default=())  # the study runs it reads (checked before measuring)
    #: its measure reads the evaluator network of its study's dataset (data/evaluators/<dataset>): a dependency of its stage
    reads_evaluator: bool = False
    #: its measure reads the reference features of its study's dataset (data/references/<dataset>, and through them
    #: the evaluator that made them): a dependency of its stage
    reads_reference: bool = False


CLAIMS: dict[str, Claim] = {}


def claim(c: Claim) -> Claim:
    """Register ``c``; a duplicate id, a part naming a run the claim does not read, or a measure it does not
    define is refused when the module is imported."""
    if c.id in CLAIMS:
        raise ValueError(f"claim {c.id!r} is registered twice")
    for p in c.parts:
        if p.measure not in c.measures:
            raise ValueError(f"claim {c.id!r}: part measures {p.measure!r}, not one of {sorted(c.measures)}")
        for run in (p.a, p.b):
            if run and c.runs and run not in c.runs:
                raise ValueError(f"claim {c.id!r}: part names run {run!r}, not one of {list(c.runs)}")
        if isinstance(p.rule, rules.Exceeds) != bool(p.b):
            raise ValueError(f"claim {c.id!r}: an Exceeds rule compares two runs, a Bound one run")
    CLAIMS[c.id] = c
    return c
