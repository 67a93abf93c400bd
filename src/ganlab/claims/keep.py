"""A profile's verdicts kept where a default ``dvc repro`` leaves them alone: ``ganlab claims --keep DEST``.

The claim stages write ``reports/claims/``; the claims profile's longer runs would be overwritten by the next
default ``dvc repro``, so their records and figures are copied to a folder of their own (reports/claims-profile)
and committed. Each kept claim carries where it came from in ``DEST/provenance.json``: the command, the date, the
commit and its seeds, **per claim**, so that claims kept from different runs (a claim added later, measured by
its own stages only) each say their own. Keeping some claims (``only``) leaves the others' records and
provenance as they were.

provenance.json::

    {"claims": {"<claim>": {"command": ..., "date": "YYYY-MM-DD", "commit": ..., "seeds": [...]}, ...}}

A file of the first format (one command, date and commit for a list of claims) is read as that entry for each.
"""

from __future__ import annotations

import datetime
import json
import logging
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ganlab.errors import GanlabError
from ganlab.files import atomic_write, write_json_atomic
from ganlab.schema import unknown_key_message

log = logging.getLogger(__name__)

PROVENANCE = "provenance.json"  # beside kept verdicts: per claim, the command that made them, when, from which commit


def read_provenance(folder: Path) -> dict[str, dict[str, Any]]:
    """claim id -> {command, date, commit, seeds} of the verdicts kept in ``folder`` ({} when none, or unreadable)."""
    path = Path(folder) / PROVENANCE
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(raw, dict):
        return {}
    claims = raw.get("claims")
    if isinstance(claims, dict):
        return {k: v for k, v in claims.items() if isinstance(v, dict)}
    if isinstance(claims, list):  # the first format: one entry for every listed claim
        entry = {k: raw[k] for k in ("command", "date", "commit") if k in raw}
        return {str(c): dict(entry) for c in claims}
    return {}


def _commit(where: Path) -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=where).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"


def keep_claims(source: str | Path, dest: str | Path, command: str, only: Iterable[str] = (),
                known: Iterable[str] = ()) -> list[Path]:
    """Copy the claim records and figures of ``source`` (reports/claims) into ``dest`` and record their provenance
    there, claim by claim; ``only``: just these claims (default: every record in ``source``). ``known``: the
    registered claim ids (a kept file of one of them is ours to replace). ``dest`` holds nothing else (but its
    README.md): a file there that is no claim's record or figure is someone else's, and stops it."""
    source, dest = Path(source), Path(dest)
    records = sorted(p for p in source.glob("*.json")) if source.is_dir() else []
    records = [p for p in records if "claim" in json.loads(p.read_text())]  # not the .verdict.json files
    only = list(only)
    if only:
        have = {p.stem for p in records}
        absent = [c for c in only if c not in have]
        if absent:
            raise GanlabError(unknown_key_message(f"{source}: claim record", absent[0], sorted(have))
                              + f"; run `dvc repro claim@{absent[0]}` first")
        records = [p for p in records if p.stem in only]
    if not records:
        raise GanlabError(f"{source}: no claim records to keep; run the claim stages first "
                          "(`dvc repro $(ganlab claims --stages)`)")
    ids = {p.stem for p in records}
    kept_before = read_provenance(dest)
    ours = ids | set(known) | set(kept_before)  # a kept claim no longer registered is still ours
    if dest.exists():
        foreign = [p.name for p in sorted(dest.iterdir())
                   if not (p.name in (PROVENANCE, "README.md") or (p.suffix in (".json", ".png") and p.is_file()
                                                                 and p.stem in ours))]
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
    commit, today = _commit(source.resolve().parent), datetime.date.today().isoformat()
    provenance = dict(kept_before)
    for record in records:
        provenance[record.stem] = {"command": command, "date": today, "commit": commit,
                                   "seeds": json.loads(record.read_text()).get("seeds", [])}
    write_json_atomic(dest / PROVENANCE, {"claims": dict(sorted(provenance.items()))})
    log.info("kept %d claims in %s", len(records), dest)
    return written
