"""BLEU-2..5 and Self-BLEU-2..5 of 10,000 sentences (what each COCO evaluation of a sequence run scores, and stage
sequences for the real captions), this checkout's src/ganlab/eval/bleu.py against git revision REV's, with the
scores compared for equality.

    .venv/bin/python benchmarks/bleu_ab.py --before REV [--data data/coco-captions] [--n 10000] [--repeats 3]

The "generated" sentences are the first N training captions, the references every test caption (dvc repro
fetch@coco-captions). The two versions alternate; medians and their ratio are printed. Run it with the machine
quiet.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from abtools import alternate, module_at  # noqa: E402 - the benchmarks' one before/after harness

from ganlab.eval import bleu as bleu_now  # noqa: E402
from ganlab.eval.sequences import tokenize  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", required=True, help="the git revision to compare with")
    ap.add_argument("--data", type=Path, default=Path("data/coco-captions"))
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    lines = (args.data / "train.txt").read_text().splitlines()
    sentences = [t for t in map(tokenize, lines) if t][: args.n]
    references = [t for t in map(tokenize, (args.data / "test.txt").read_text().splitlines()) if t]
    print(f"{len(sentences)} sentences, {len(references)} references; before = {args.before}, after = this checkout")
    with tempfile.TemporaryDirectory() as tmp:
        before = module_at(args.before, "src/ganlab/eval/bleu.py", "bleu_before", Path(tmp))
        print(f"{'':<44s} {'before s':>9s} {'after s':>9s} {'ratio':>6s}  equal")
        alternate("BLEU-2..5 against the test captions", lambda: before.bleu(sentences, references),
                  lambda: bleu_now.bleu(sentences, references), args.repeats)
        alternate("Self-BLEU-2..5", lambda: before.self_bleu(sentences), lambda: bleu_now.self_bleu(sentences),
                  args.repeats)


if __name__ == "__main__":
    main()
