"""Speed of near-duplicate search: perceptual hashing, the multi-index hash search, and all pairs.

Prints, for this machine:

1. hashing throughput (images/s) of phash, dhash, whash and ahash at hash_size 8 on 64x64 grey
   images: face crops from data/faces or data/face-crops (train split, up to 2000) when present,
   else synthetic smooth random images (the output says which);
2. ``near_pairs`` on N uniformly random 64-bit hashes (fixed seed) at each threshold: its plan
   (chunks m, per-chunk radius r, flip patterns), pairs found (and the count expected by chance),
   wall time, and peak memory from a second call under tracemalloc (which sees numpy's allocations);
3. the vectorised ``all_pairs_baseline`` once per N (its cost barely depends on the threshold, so it
   is measured at t=8 only): timed on its first rows, then run in full when that predicts under
   3 minutes, else extrapolated to all N(N-1)/2 pairs and marked so; and baseline / index per row;
4. correctness: ``near_pairs`` and ``all_pairs_baseline`` give the same pair sets on 20,000 hashes
   with injected near duplicates at distances 0..15 (raises otherwise).

An index search predicted (from a lower threshold's time and the plan's work ratio) to take over
8 minutes is estimated instead of run, and marked so, unless ``--full`` is given.

Run from the repository root:
    .venv/bin/python benchmarks/dedup_speed.py            # N = 100,000 and 1,000,000
    .venv/bin/python benchmarks/dedup_speed.py --quick    # N = 20,000 and 100,000
    .venv/bin/python benchmarks/dedup_speed.py --full --sizes 1000000 --thresholds 8,12
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shlex
import sys
import time
import tracemalloc
from pathlib import Path

import cv2
import imagehash
import numpy as np

from ganlab.data.datasets import load_images
from ganlab.data.dedup import HASHES, hash_images
from ganlab.data.hashindex import all_pairs_baseline, estimated_seconds, near_pairs, plan

ROOT = Path(__file__).resolve().parents[1]
SEED = 20240611
SAMPLE_ROWS = 2048  # baseline rows timed before deciding whether to run it in full
FULL_BASELINE_S = 180.0
ESTIMATE_OVER_S = 480.0


def random_hashes(n: int, seed: int = SEED) -> np.ndarray:
    """n uniformly random 64-bit hashes, drawn as two 32-bit halves."""
    rng = np.random.default_rng(seed)
    hi, lo = (rng.integers(0, 2**32, n, dtype=np.uint64) for _ in range(2))
    return (hi << np.uint64(32)) | lo


def index_search(words: np.ndarray, t: int) -> np.ndarray:
    """The multi-index search itself (near_pairs' "auto" would hand wide radii on few hashes to a scan)."""
    return near_pairs(words, t, method="index")


def auto_choice(n: int, t: int) -> str:
    index_s, scan_s = estimated_seconds(n, 64, t)
    return "scan" if scan_s < index_s else "index"


def timed(fn, *args):
    """(result, seconds) of one call, without tracing (tracemalloc slows numpy-heavy loops)."""
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def peak_mib(fn, *args) -> float:
    """Peak traced memory of a second call, in MiB; tracemalloc sees numpy's allocations."""
    tracemalloc.start()
    fn(*args)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return peak


def plan_info(n: int, t: int, nbits: int = 64) -> tuple[int, int, int, float]:
    """m, r, flip patterns over all chunks, and the plan's work estimate, as near_pairs will use them."""
    m, r = plan(n, nbits, t)
    widths = np.diff(np.linspace(0, nbits, m + 1).round().astype(int))
    per = [sum(math.comb(int(w), k) for k in range(r + 1)) for w in widths]
    work = sum(p * (n + 3.0 * n * n / 2 ** int(w)) for p, w in zip(per, widths))
    return m, r, sum(per), work


def expected_pairs(n: int, t: int) -> float:
    return n * (n - 1) / 2 * sum(math.comb(64, k) for k in range(t + 1)) / 2**64


def baseline_rows(words: np.ndarray, rows: int, threshold: int) -> int:
    """The numpy work all_pairs_baseline does (its single-word path) for its first ``rows`` rows."""
    n, found = len(words), 0
    step = max(1, min(2048, (1 << 18) // n))
    for start in range(0, rows, step):
        later = words[start + 1 :]
        d = np.bitwise_count(words[start : min(start + step, rows), None] ^ later).ravel()
        hit = np.flatnonzero(d <= threshold)
        i, j = np.divmod(hit, len(later))
        keep = i + start < j + start + 1
        found += len(np.stack([i[keep] + start, j[keep] + start + 1, d[hit[keep]].astype(np.uint64)], axis=1))
    return found


def test_images(limit: int = 2000) -> tuple[list[np.ndarray], str]:
    for name in ("data/faces", "data/face-crops"):
        if (ROOT / name / "train.npz").exists():
            images = load_images(ROOT / name, "train")[0].images[:limit]
            grey = [im[..., 0] if im.shape[-1] == 1 else cv2.cvtColor(im, cv2.COLOR_RGB2GRAY) for im in images]
            out = [cv2.resize(g, (64, 64), interpolation=cv2.INTER_AREA)[..., None] for g in grey]
            return out, f"{len(out)} face crops from {name} (train split), grey 64x64"
    rng = np.random.default_rng(SEED)
    out = [np.clip(cv2.resize(rng.normal(128, 60, (8, 8)).astype(np.float32), (64, 64),
                              interpolation=cv2.INTER_CUBIC), 0, 255).astype(np.uint8)[..., None] for _ in range(limit)]
    return out, f"{limit} synthetic smooth random images (8x8 noise, bicubic to 64x64; no face-crop dataset found)"


def bench_hashing() -> None:
    images, source = test_images()
    print(f"\n1. Hashing throughput, hash_size 8, on {source}", flush=True)
    for method in HASHES:
        hash_images(images[:5], method, 8)  # warm-up: imports, first-call costs
        t0 = time.perf_counter()
        hash_images(images, method, 8)
        dt = time.perf_counter() - t0
        print(f"   {method:6s} {len(images) / dt:9,.0f} images/s  ({dt / len(images) * 1e6:7.1f} us/image)", flush=True)


def verify(thresholds: list[int], n: int = 20_000) -> None:
    rng = np.random.default_rng(SEED + 1)
    h = random_hashes(n, SEED + 1)
    idx = rng.choice(n, 640, replace=False)
    for k, (a, b) in enumerate(zip(idx[:320], idx[320:])):  # 20 injected pairs at each distance 0..15
        h[b] = h[a] ^ np.uint64(sum(1 << int(bit) for bit in rng.choice(64, k % 16, replace=False)))
    print(f"\n4. Correctness: near_pairs vs all_pairs_baseline, N={n:,} with 320 injected near duplicates", flush=True)
    for t in thresholds:
        got = {tuple(p) for p in near_pairs(h, t, method="index").tolist()}
        want = {tuple(int(x) for x in p) for p in all_pairs_baseline(h, t).tolist()}
        if got != want:
            raise AssertionError(f"t={t}: {len(got - want)} extra and {len(want - got)} missing pairs")
        print(f"   t={t:2d}: {len(got):4d} pairs, identical sets: OK", flush=True)


def bench_search(n: int, thresholds: list[int], full: bool) -> list[dict]:
    words = random_hashes(n)
    rows = min(SAMPLE_ROWS, n - 1)
    sample_pairs = rows * (n - 1) - rows * (rows - 1) // 2
    ts, ms = timed(baseline_rows, words, rows, 8)[1], peak_mib(baseline_rows, words, rows, 8)
    predicted = ts * (n * (n - 1) / 2) / sample_pairs
    print(f"   [N={n:,}] baseline on first {rows} rows: {ts:.2f} s -> {predicted:.1f} s for all pairs", flush=True)
    base_pairs = None
    if predicted <= FULL_BASELINE_S:
        res, tb = timed(all_pairs_baseline, words, 8)
        base, base_note, base_pairs = (tb, ms), "measured, t=8", {(int(i), int(j)) for i, j, _ in res.tolist()}
        print(f"   [N={n:,}] baseline in full at t=8: {tb:.1f} s, {len(res)} pairs", flush=True)
    else:
        base, base_note = (predicted, ms), f"EXTRAPOLATED from {rows} rows"
    out, prev = [], None
    for t in sorted(thresholds):
        m, r, patterns, work = plan_info(n, t)
        row = dict(n=n, t=t, m=m, r=r, patterns=patterns, expected=expected_pairs(n, t), base=base, base_note=base_note)
        if prev and not full and prev[0] * work / prev[1] > ESTIMATE_OVER_S:
            row.update(time=prev[0] * work / prev[1], mib=None, pairs=None, estimated=True)
            print(f"   [N={n:,} t={t}] near_pairs ESTIMATED {row['time']:.0f} s (plan work x{work / prev[1]:.1f}"
                  f" of a measured lower threshold; --full runs it)", flush=True)
        else:
            res, ti = timed(index_search, words, t)
            mi = peak_mib(index_search, words, t) if ti < 120 else None
            row.update(time=ti, mib=mi, pairs=len(res), estimated=False)
            prev = (ti, work)
            print(f"   [N={n:,} t={t}] near_pairs index {ti:.2f} s, {len(res)} pairs, peak "
                  + ("not measured (run took over 2 min)" if mi is None else f"{mi:.0f} MiB")
                  + f"; method='auto' would run the {auto_choice(n, t)}", flush=True)
            if t == 8 and base_pairs is not None and base_pairs != {(i, j) for i, j, _ in res.tolist()}:
                raise AssertionError(f"N={n}: near_pairs and all_pairs_baseline disagree at t=8")
        out.append(row)
    return out


def print_table(rows: list[dict]) -> None:
    print("\n2./3. Search on uniformly random 64-bit hashes: near_pairs vs all_pairs_baseline")
    head = (f"{'N':>9} {'t':>2} {'m':>2} {'r':>2} {'patterns':>8} {'pairs':>7} {'(chance)':>10} {'index s':>10}"
            f" {'idx MiB':>7} {'baseline s':>10} {'base MiB':>8} {'base/index':>10}  baseline")
    print(head + "\n" + "-" * len(head))
    for w in rows:
        est = "~" if w["estimated"] else ""
        pairs = "-" if w["pairs"] is None else f"{w['pairs']:,}"
        mib = "-" if w["mib"] is None else f"{w['mib']:.0f}"
        print(f"{w['n']:>9,} {w['t']:>2} {w['m']:>2} {w['r']:>2} {w['patterns']:>8,} {pairs:>7} {w['expected']:>10,.1f}"
              f" {est + format(w['time'], '.2f'):>10} {mib:>7} {w['base'][0]:>10.1f} {w['base'][1]:>8.0f}"
              f" {est + format(w['base'][0] / w['time'], ',.1f') + 'x':>10}  {w['base_note']}")
    print("index s with ~ is ESTIMATED, not run. The baseline is measured once per N (at t=8): its cost"
          "\nhardly depends on the threshold. EXTRAPOLATED = time on the first rows x (all pairs / pairs in those rows)."
          "\n(chance) = pairs expected between independent uniform hashes. Times are untraced; peak MiB (tracemalloc)"
          "\ncomes from a second, traced call (index: skipped, '-', when the run took over 2 min; baseline: on the"
          "\nrow sample, whose temporaries are what the full run holds at a time).")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=None,
                    help="comma-separated N (default 100000,1000000)")
    ap.add_argument("--thresholds", type=lambda s: [int(x) for x in s.split(",")], default=[4, 8, 12],
                    help="comma-separated Hamming thresholds (default 4,8,12)")
    ap.add_argument("--quick", action="store_true", help="sizes 20000,100000 (unless --sizes is given)")
    ap.add_argument("--full", action="store_true", help="run index searches predicted to exceed 8 minutes")
    args = ap.parse_args()
    sizes = args.sizes or ([20_000, 100_000] if args.quick else [100_000, 1_000_000])
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), platform.processor())
    print(f"dedup speed benchmark, {time.strftime('%Y-%m-%d %H:%M:%S')}")
    print(f"machine: nproc {len(os.sched_getaffinity(0))} ({cpu}), load avg {os.getloadavg()[0]:.2f}, "
          f"{platform.platform()}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, imagehash {imagehash.__version__}, opencv {cv2.__version__}")
    print(f"reproduce: cd {ROOT} && .venv/bin/python benchmarks/dedup_speed.py {shlex.join(sys.argv[1:])}".rstrip())
    print(f"sizes {sizes}, thresholds {args.thresholds}, seed {SEED}", flush=True)
    started = time.perf_counter()
    bench_hashing()
    print("\n2./3. Search progress", flush=True)
    rows = [row for n in sizes for row in bench_search(n, args.thresholds, args.full)]
    verify(args.thresholds)
    print_table(rows)
    print(f"\ntotal {time.perf_counter() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
