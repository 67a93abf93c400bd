"""Claims measured and judged: stage claim@<claim> (:func:`write_claim`); a profile's are kept by :mod:`ganlab.claims.keep`.

The registered claims (:mod:`ganlab.claims.claim`) are defined in their families' modules (ganlab.claims.toy);
this module loads them, measures one on its study's runs, applies its rule and writes its record, figure and
verdict.
"""

from __future__ import annotations

import importlib
import logging
import time
from pathlib import Path
from typing import Any

from ganlab.claims import rules
from ganlab.claims.claim import CLAIMS, Claim, Measured
from ganlab.claims.config import ClaimsParams
from ganlab.errors import GanlabError
from ganlab.files import write_json_atomic
from ganlab.schema import unknown_key_message

log = logging.getLogger(__name__)

CLAIMS_DIR = "reports/claims"
VERDICT_SUFFIX = ".verdict.json"  # reports/claims/<claim>.verdict.json: the stage's metrics file


#: the modules that register claims, in the order their claims are listed (dvc.yaml, `ganlab claims`, the report)
FAMILIES = ("ganlab.claims.toy", "ganlab.claims.conditional", "ganlab.claims.infogan", "ganlab.claims.critics",
            "ganlab.claims.ablations", "ganlab.claims.architectures", "ganlab.claims.curves")


def _load_all() -> None:
    for module in FAMILIES:
        importlib.import_module(module)


def all_claims() -> dict[str, Claim]:
    """Every registered claim, family by family in FAMILIES' order (whatever imported one first), each family's in
    the order it registers them; a claim registered elsewhere (a test's) comes last."""
    _load_all()
    rank = {module: i for i, module in enumerate(FAMILIES)}
    order = sorted(enumerate(CLAIMS.values()), key=lambda ic: (rank.get(ic[1].measure.__module__, len(rank)), ic[0]))
    return {c.id: c for _, c in order}


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
    seeds = claims.seeds_of(c.study)
    if c.study:
        info = read_study(study_dir)
        absent = [r for r in c.runs if r not in info["runs"]]
        if absent:
            raise GanlabError(f"claim {c.id} compares run {absent[0]!r}, which study {c.study} does not train "
                              f"(claims.studies.{c.study}: {', '.join(info['runs'])})")
        if sorted(info["seeds"]) != sorted(seeds):
            raise GanlabError(f"{study_dir}: trained with seeds {info['seeds']}, params ask for {list(seeds)}; "
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
        "n_seeds": len(seeds), "seeds": list(seeds),
        "measures": c.measures, "rule": [p.text() for p in c.parts], "parts": judged["parts"],
        "values": values, "summary": summary, "published": list(c.published), "notes": c.notes,
        "study": c.study or None, "figure": figure.name,
        "protocol": {**measured.protocol, "seeds": list(seeds), "min_seeds_for_a_verdict": rules.MIN_SEEDS},
        "seconds": round(time.perf_counter() - started, 2),
    }
    write_json_atomic(out_dir / f"{c.id}.json", result)
    # the verdict alone, for `dvc metrics show` (the record's per-seed values would fill the table)
    write_json_atomic(out_dir / f"{c.id}{VERDICT_SUFFIX}", {"verdict": result["verdict"],
                                                            "verdict_code": result["verdict_code"],
                                                            "n_seeds": result["n_seeds"]})
    log.info("claim@%s: %s over %d seeds", c.id, result["verdict"], len(seeds))
    return result
