"""The report's Claims section, first on the page: every paper claim with its verdict, then each one's figure.

It reads the claim stages' ``reports/claims/<claim>.json`` and, for each claim that ``reports/claims-profile/``
holds, the claims profile's instead (more seeds; written by `ganlab profile claims` + `dvc repro` and committed
with each claim's command and date in its ``provenance.json``), and says which each row shows. Our per-seed values and the
papers' own numbers are in separate tables.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ganlab.claims.keep import PROVENANCE, read_provenance  # reports/claims-profile: per claim, the command and date
from ganlab.report.document import Document



def _fmt(x: Any) -> str:
    if isinstance(x, float):
        if math.isnan(x):
            return "nan"
        return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"
    return str(x)


def load_claims(folder: Path) -> list[dict[str, Any]]:
    """The claim records in ``folder`` (sorted by id); unreadable files are skipped by the caller's missing note."""
    out = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        if path.name == PROVENANCE:
            continue
        try:
            record = json.loads(path.read_text())
        except ValueError:
            continue
        if isinstance(record, dict) and "verdict" in record and "claim" in record:
            record["_folder"] = folder
            out.append(record)
    return out


def claims_section(doc: Document, default: Path, profile: Path) -> None:
    """The Claims section: each claim's record from ``profile`` (the claims profile's) when it measured that claim,
    else from ``default`` (the default run's), with which one each row shows. A claim added after the profile's
    verdicts were kept is shown at the default's seeds, not left out."""
    defaults = {r["claim"]: r for r in load_claims(default)}
    profiled = {r["claim"]: r for r in load_claims(profile)}
    records = [profiled.get(c) or defaults[c] for c in sorted(set(defaults) | set(profiled))]
    shown = (f"These verdicts are the **default run's** (`{default.name}/`, at the default profile's seed count); "
             "`ganlab profile claims` trains more seeds.")
    provenance = read_provenance(profile) if profiled else {}
    if profiled:
        shown = (f"Each verdict is the **claims profile's** (`{profile.name}/`, with the command and date that "
                 "measured it beside its figure) where it measured the claim, else the default run's "
                 f"(`{default.name}/`, at its seed count): the table says which. The default run's own verdicts "
                 f"are all in `{default.name}/`.")
    doc.section("Claims", "claims", "Each paper's central claim, measured on our runs over seeds and judged by a "
                "rule fixed in code before the runs (ganlab.claims): reproduced, not reproduced or inconclusive. "
                "The rule is applied to every seed, never to the best one. " + (shown if records else ""))
    if not records:
        doc.lines += ["*No claim has been measured yet: `dvc repro` runs the claim@<claim> stages.*", ""]
        doc.missing.append(str(default))
        return
    doc.lines += ["| claim | paper | verdict | seeds | from | parts |", "|---|---|---|---|---|---|"]
    for r in records:
        parts = "; ".join(f"{p['measure']}: {p['a']}{' vs ' + p['b'] if p.get('b') else ''} {p['verdict']}"
                          for p in r.get("parts", []))
        kept = provenance.get(r["claim"], {})
        source = (f"claims profile, {kept.get('date', 'date not recorded')}" if r["_folder"] == profile
                  else "default run")
        doc.lines.append(f"| [{r['title']}](#claim-{r['claim']}) | {r['paper']} | **{r['verdict']}** | "
                         f"{r['n_seeds']} | {source} | {parts} |")
    doc.lines.append("")
    for r in records:
        claim_detail(doc, r, r["_folder"], provenance.get(r["claim"]) if r["_folder"] == profile else None)


def claim_detail(doc: Document, r: dict[str, Any], folder: Path, kept: dict[str, Any] | None = None) -> None:
    """One claim's rule, values, published numbers and figure; ``kept``: where a kept verdict came from."""
    doc.lines += [f'<a id="claim-{r["claim"]}"></a>', "", f"### {r['title']}: {r['verdict']} ({r['n_seeds']} seeds)",
                  "", f"*{r['paper']}.* {r['statement']}", ""]
    if kept is not None:
        doc.lines += [f"Measured by the claims profile: `{kept.get('command', 'command not recorded')}`, "
                      f"{kept.get('date', 'date not recorded')}, commit {str(kept.get('commit', 'not recorded'))[:12]}.",
                      ""]
    doc.lines += ["Rule, fixed before the runs:", ""] + [f"- {t}" for t in r.get("rule", [])] + [""]
    if r.get("notes"):
        doc.lines += [r["notes"], ""]
    seeds = [str(s) for s in r.get("seeds", [])]
    for measure, by_run in r.get("values", {}).items():
        doc.lines += [f"{measure} ({r.get('measures', {}).get(measure, '')}), ours:", "",
                      "| run | " + " | ".join(f"seed {s}" for s in seeds) + " | mean +- std |",
                      "|---|" + "---|" * (len(seeds) + 1)]
        for run, by_seed in by_run.items():
            s = r.get("summary", {}).get(measure, {}).get(run, {})
            doc.lines.append(f"| {run} | " + " | ".join(_fmt(by_seed.get(k, float("nan"))) for k in seeds) +
                             f" | {_fmt(s.get('mean', float('nan')))} +- {_fmt(s.get('std', float('nan')))} |")
        doc.lines.append("")
    if r.get("published"):
        doc.lines += ["Published (quoted from the papers; not comparable one to one: their networks, steps and "
                      "seeds):", "", "| source | setting | method | measure | value |", "|---|---|---|---|---|"]
        for p in r["published"]:
            doc.lines.append(f"| {p.get('source', '')} | {p.get('setting', '')} | {p.get('method', '')} | "
                             f"{p.get('measure', '')} | {p.get('value', '')} |")
        doc.lines.append("")
    doc.image(folder / r.get("figure", f"{r['claim']}.png"), f"{r['claim']}")
