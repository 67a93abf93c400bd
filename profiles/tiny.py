"""Write profiles/tiny.yaml: profiles/all.yaml (params.yaml plus every other variant's runs) with every run,
evaluator and metric cut to a few steps.

The tiny profile runs the whole pipeline (every stage of dvc.yaml, on the real datasets) in
minutes: CI's end-to-end check that a fresh clone reproduces and that a second `dvc repro` does
nothing. Its numbers mean nothing. Generated, not hand-written, so it keeps every key and comment
of profiles/all.yaml (itself kept in step with params.yaml) and cannot drift from it (tests/test_params.py
regenerates it and compares):

    python profiles/tiny.py            # rewrite profiles/tiny.yaml from profiles/all.yaml
    cp profiles/tiny.yaml params.yaml && dvc repro    # in a scratch clone (.ci/run does this)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: (path pattern, value): a path is the dotted keys down to a leaf; * matches one key
OVERRIDES: tuple[tuple[str, str], ...] = (
    ("models.*.train.steps", "6"),
    ("models.*.train.sample_every", "3"),
    ("models.*.train.checkpoint_every", "3"),
    ("models.*.train.log_every", "1"),
    ("models.*.train.eval_every", "0"),
    ("models.*.model.pretrain_steps", "2"),
    ("models.*.model.d_pretrain_steps", "1"),
    ("models.*.model.d_steps", "1"),
    ("models.*.model.rollouts", "2"),
    ("models.*.model.eval_iterations", "1"),
    ("models.*.model.nll_samples", "8"),
    ("models.*.model.nll_images", "16"),
    ("models.*.model.vq_steps", "3"),
    ("models.*.model.phase_steps", "1"),
    ("evaluators.*.epochs", "1"),
    ("metrics.n_real", "200"),
    ("metrics.n_fake", "200"),
    ("metrics.kid_subsets", "10"),
    ("metrics.kid_subset_size", "100"),
    ("metrics.is_splits", "2"),
    ("metrics.nearest_rows", "4"),
    ("transfer.train_subset", "2000"),
    ("transfer.c_grid", "[1.0e-4, 1.0e-3]"),
    ("domains.train_per_domain", "500"),
    ("domains.test_per_domain", "100"),
)
#: keys added under a section that the source leaves to their defaults
ADDED = {"evaluators.*": "    train_subset: 2000  # tiny: 2,000 training images"}
SPECIAL = {"models.progan.train.steps": "9"}  # 4 -> 32 px takes 9 phases of phase_steps


def _matches(pattern: str, path: str) -> bool:
    p, k = pattern.split("."), path.split(".")
    return len(p) == len(k) and all(a in ("*", b) for a, b in zip(p, k))


def tiny(text: str) -> str:
    """profiles/all.yaml text -> the tiny profile's text (comments kept; changed values say so)."""
    out = ["# The tiny profile: written by profiles/tiny.py from profiles/all.yaml; do not edit by hand.", ""]
    stack: list[tuple[int, str]] = []  # (indent, key) of the enclosing mappings
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^( *)([\w.-]+):(.*)$", line)
        if not m or line.lstrip().startswith("#"):
            out.append(line)
            continue
        indent, key, rest = len(m.group(1)), m.group(2), m.group(3)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = ".".join([k for _, k in stack] + [key])
        value, _, comment = rest.partition("  #")
        if value.strip():  # a leaf
            new = SPECIAL.get(path) or next((v for pat, v in OVERRIDES if _matches(pat, path)), None)
            if new is not None and new != value.strip():
                line = f"{m.group(1)}{key}: {new}  # tiny (all.yaml: {value.strip()})"
        else:
            stack.append((indent, key))
        out.append(line)
        for pat, added in ADDED.items():  # a key the source leaves unset, as the section's first line
            if not value.strip() and _matches(pat, path):
                out.append(added)
    return "\n".join(out) + "\n"


def main() -> None:
    target = ROOT / "profiles" / "tiny.yaml"
    target.write_text(tiny((ROOT / "profiles" / "all.yaml").read_text()))
    sys.stderr.write(f"wrote {target}\n")


if __name__ == "__main__":
    main()
