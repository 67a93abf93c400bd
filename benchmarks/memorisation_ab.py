"""The memorisation check's hashing and hash search, this checkout's code against git revision REV's, in one
process on the same data, with the results compared for equality:

- perceptual hashes (phash) of the 60,000 train images (stage reference@mnist) and of 2,000 generated ones
  (each metrics@<run>);
- the nearest-hash search, 2,000 x 60,000 (each metrics@<run>) and 10,000 x 60,000 (reference@mnist).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/memorisation_ab.py --before REV [--data data/mnist] [--repeats 5]

REV's src/ganlab/eval/memorisation.py and src/ganlab/data/dedup.py are loaded beside this checkout's (git show,
nothing of the worktree touched). The two alternate, so that load on the machine hits both alike; medians are
printed with their ratio. The "generated" images are MNIST test images (the searches' cost does not depend on
what the images show). Run it with the machine quiet.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from abtools import alternate, module_at  # noqa: E402 - the benchmarks' one before/after harness

from ganlab.data import dedup as dedup_now  # noqa: E402
from ganlab.data.datasets import load_images  # noqa: E402
from ganlab.eval import memorisation as memo_now  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", required=True, help="the git revision to compare with")
    ap.add_argument("--data", default="data/mnist")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    print(f"torch threads {torch.get_num_threads()}; before = {args.before}, after = this checkout")

    train = load_images(args.data, "train")[0].images
    test = load_images(args.data, "test")[0].images
    generated = list(test[:2000])
    with tempfile.TemporaryDirectory() as tmp:
        dedup_before = module_at(args.before, "src/ganlab/data/dedup.py", "dedup_before", Path(tmp))
        memo_before = module_at(args.before, "src/ganlab/eval/memorisation.py", "memo_before", Path(tmp))
        train_hashes = dedup_now.hash_images(list(train), "phash", 8)
        gen_hashes = dedup_now.hash_images(generated, "phash", 8)
        test_hashes = dedup_now.hash_images(list(test), "phash", 8)
        cases = [
            (f"phash of {len(train)} train images", lambda d, m: d.hash_images(list(train), "phash", 8), 1),
            (f"phash of {len(generated)} generated", lambda d, m: d.hash_images(generated, "phash", 8), args.repeats),
            (f"nearest hash {len(gen_hashes)} x {len(train_hashes)}",
             lambda d, m: m.nearest_hashes(gen_hashes, train_hashes), args.repeats),
            (f"nearest hash {len(test_hashes)} x {len(train_hashes)}",
             lambda d, m: m.nearest_hashes(test_hashes, train_hashes), max(1, args.repeats // 2)),
        ]
        print(f"{'':<44s} {'before s':>9s} {'after s':>9s} {'ratio':>6s}  equal")
        for label, fn, repeats in cases:
            alternate(label, lambda: fn(dedup_before, memo_before), lambda: fn(dedup_now, memo_now), repeats)


if __name__ == "__main__":
    main()
