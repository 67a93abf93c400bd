"""A paper's claim as a measured verdict: what it says, what measures it, and the rule stated before the runs.

A :class:`Claim` is registered in code (``@claim``) with its citation, the paper's statement and number,
the study whose runs it compares, its **measure** (a function from the study's trained runs to per-run,
per-seed values and whatever its figure needs) and its **parts**: each part compares two runs (or one run
against a bound) on one measure by a rule of :mod:`ganlab.claims.rules`. The claim's verdict combines
the parts' (every part reproduced: reproduced; any part not: not reproduced). Stage claim@<claim>
(:func:`write_claim`) writes ``reports/claims/<claim>.json`` and its figure.

The rules and parts live in code, committed before the runs they judge; the seeds come from params. The
published numbers travel in a table of their own (``published``), never mixed with ours.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganlab.claims import rules
from ganlab.claims.config import ClaimsParams
from ganlab.errors import GanlabError
from ganlab.files import write_json_atomic
from ganlab.schema import unknown_key_message

log = logging.getLogger(__name__)

CLAIMS_DIR = "reports/claims"


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


def _load_all() -> None:
    from ganlab.claims import toy  # noqa: F401 - registers the toy claims

    del toy


def all_claims() -> dict[str, Claim]:
    _load_all()
    return dict(CLAIMS)


def get(claim_id: str) -> Claim:
    _load_all()
    if claim_id not in CLAIMS:
        raise GanlabError(unknown_key_message("claim", claim_id, sorted(CLAIMS)))
    return CLAIMS[claim_id]


def judge(c: Claim, measured: Measured) -> dict[str, Any]:
    """Apply each part's rule to the measured per-seed values; the parts' results and the claim's verdict."""
    parts = []
    for p in c.parts:
        by_run = measured.values.get(p.measure, {})
        missing = [r for r in (p.a, p.b) if r and r not in by_run]
        if missing:
            raise GanlabError(f"claim {c.id}: no {p.measure} measured for run {missing[0]!r}")
        what = f"claim {c.id}, {p.measure}"
        result = p.rule.judge(by_run[p.a], by_run[p.b] if p.b else None, what)
        parts.append({"measure": p.measure, "a": p.a, "b": p.b or None, "rule": p.text(), **result})
    return {"parts": parts, "verdict": rules.combine([p["verdict"] for p in parts])}


def write_claim(claims: ClaimsParams, claim_id: str, data_root: str | Path, out_dir: str | Path) -> dict[str, Any]:
    """Stage claim@<claim>: measure, judge, and write OUT_DIR/<claim>.json and OUT_DIR/<claim>.png."""
    from ganlab.claims.study import STUDIES, read_study

    c = get(claim_id)
    started = time.perf_counter()
    study_dir = Path(data_root) / STUDIES / c.study if c.study else Path(data_root)
    if c.study:
        info = read_study(study_dir)
        absent = [r for r in c.runs if r not in info["runs"]]
        if absent:
            raise GanlabError(f"claim {c.id} compares run {absent[0]!r}, which study {c.study} does not train "
                              f"(claims.studies.{c.study}: {', '.join(info['runs'])})")
        if sorted(info["seeds"]) != sorted(claims.seeds):
            raise GanlabError(f"{study_dir}: trained with seeds {info['seeds']}, params ask for {list(claims.seeds)}; "
                              f"`dvc repro study@{c.study}`")
    measured = c.measure(claims, study_dir, Path(data_root))
    judged = judge(c, measured)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    figure = out_dir / f"{c.id}.png"
    c.figure(measured, figure)
    values = {m: {run: {str(s): v for s, v in sorted(by_seed.items())} for run, by_seed in by_run.items()}
              for m, by_run in measured.values.items()}
    summary = {m: {run: rules.summary(by_seed) for run, by_seed in by_run.items()}
               for m, by_run in measured.values.items()}
    result = {
        "claim": c.id, "title": c.title, "paper": c.paper, "statement": c.statement,
        "verdict": judged["verdict"], "verdict_code": rules.VERDICT_CODES[judged["verdict"]],
        "n_seeds": len(claims.seeds), "seeds": list(claims.seeds),
        "measures": c.measures, "rule": [p.text() for p in c.parts], "parts": judged["parts"],
        "values": values, "summary": summary, "published": list(c.published), "notes": c.notes,
        "study": c.study or None, "figure": figure.name,
        "protocol": {**measured.protocol, "seeds": list(claims.seeds), "min_seeds_for_a_verdict": rules.MIN_SEEDS},
        "seconds": round(time.perf_counter() - started, 2),
    }
    write_json_atomic(out_dir / f"{c.id}.json", result)
    log.info("claim@%s: %s over %d seeds", c.id, result["verdict"], len(claims.seeds))
    return result


PROVENANCE = "provenance.json"  # beside kept verdicts: the command that made them, when, from which commit


def keep_claims(source: str | Path, dest: str | Path, command: str) -> list[Path]:
    """Copy the claim records and figures of ``source`` (reports/claims) into ``dest`` with a provenance.json
    (the command, the date, the git commit), replacing the ones kept there before. ``dest`` holds nothing else
    (but its README.md): a file there that is no claim's record or figure is someone else's, and stops it."""
    import datetime
    import json
    import subprocess

    from ganlab.files import atomic_write

    source, dest = Path(source), Path(dest)
    records = sorted(p for p in source.glob("*.json")) if source.is_dir() else []
    records = [p for p in records if "verdict" in json.loads(p.read_text())]
    if not records:
        raise GanlabError(f"{source}: no claim records to keep; run the claim stages first "
                          "(`dvc repro $(ganlab claims --stages)`)")
    ids = {p.stem for p in records}
    if dest.exists():
        foreign = [p.name for p in sorted(dest.iterdir())
                   if not (p.name in (PROVENANCE, "README.md") or (p.suffix in (".json", ".png") and p.is_file()
                                                    and (p.stem in ids or p.stem in get_ids())))]
        if foreign:
            raise GanlabError(f"{dest}: holds {foreign[0]!r}, which is not a kept claim; keep the verdicts in a "
                              "folder of their own")
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for record in records:
        for path in (record, record.with_suffix(".png")):
            if path.is_file():
                with atomic_write(dest / path.name) as fh:
                    fh.write(path.read_bytes())
                written.append(dest / path.name)
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                                cwd=source.resolve().parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown (not a git checkout)"
    seeds = sorted({tuple(json.loads(r.read_text()).get("seeds", [])) for r in records})
    write_json_atomic(dest / PROVENANCE, {"command": command, "date": datetime.date.today().isoformat(),
                                          "commit": commit, "claims": sorted(ids), "seeds": [list(s) for s in seeds]})
    log.info("kept %d claims in %s", len(records), dest)
    return written


def get_ids() -> set[str]:
    return set(all_claims())
