"""The cost of metrics@<run>'s memorisation checks and Parzen estimate at full MNIST size:
perceptual hashes of the 60,000 train images (stage reference@<dataset> caches them as
train_hashes.npy) and of 10,000 generated ones, the nearest-hash search 10,000 x 60,000 and the
copy check around it, the nearest training images in evaluator-feature space 10,000 x 60,000,
and the Parzen-window estimate (10,000 samples, sigma chosen on 10,000 validation images, 10,000
test images).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/memorisation_speed.py \
        --generator data/models/gan/generator.pt --evaluator data/evaluators/mnist/evaluator.pt \
        --data data/mnist [--n 10000] [--parzen-real]

Without ``--generator`` the "generated" images are MNIST test images. ``--parzen-real`` also
estimates the Parzen log-likelihood with 10,000 real train images (not the validation ones) as
the samples: what a generator that reproduced the data distribution would score.

Prints seconds and the peak resident-memory increase of each phase (RSS sampled every 5 ms above
the level at the phase's start: torch's allocations are invisible to tracemalloc), then the
process's peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ganlab.data.datasets import load_images
from ganlab.eval import memorisation as memo
from ganlab.eval import metrics as M
from ganlab.eval.extractors import evaluator_extractor
from ganlab.eval.parzen import parzen_log_likelihood
from ganlab.eval.pipeline import PARZEN_VALIDATION, generate
from ganlab.runs import load_generator

PAGE = resource.getpagesize()


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE


def timed(label: str, fn: Callable[[], Any]) -> Any:
    """Run ``fn``, print its seconds and the peak RSS above the level it started at."""
    base, peak, done = rss_bytes(), [0], threading.Event()

    def sample() -> None:
        while not done.wait(0.005):
            peak[0] = max(peak[0], rss_bytes())

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    t = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t
    done.set()
    watcher.join()
    peak[0] = max(peak[0], rss_bytes())
    print(f"{label:<52s} {seconds:8.2f} s   +{(peak[0] - base) / 2**20:7.0f} MiB peak RSS", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generator", default=None, help="a generator.pt; default: MNIST test images stand in")
    parser.add_argument("--evaluator", default="data/evaluators/mnist/evaluator.pt")
    parser.add_argument("--data", default="data/mnist")
    parser.add_argument("--n", type=int, default=10000, help="generated images (and Parzen samples)")
    parser.add_argument("--hash", default="phash")
    parser.add_argument("--hash-size", type=int, default=8)
    parser.add_argument("--threshold", type=int, default=16, help="bits, params dedup.threshold")
    parser.add_argument("--min-correlation", type=float, default=0.94, help="params dedup.min_correlation")
    parser.add_argument("--parzen-real", action="store_true", help="also score real train images as samples")
    args = parser.parse_args()
    print(f"torch threads: {torch.get_num_threads()}")

    train = load_images(args.data, "train")[0].images  # (60000, 28, 28, 1) uint8
    test = load_images(args.data, "test")[0].images
    if args.generator:
        variant = load_generator(args.generator)
        with torch.no_grad():
            gen = timed(f"generate {args.n} ({args.generator})", lambda: generate(variant, args.n, 0, 500)[0])
    else:
        gen = torch.from_numpy(np.ascontiguousarray(test[: args.n])).permute(0, 3, 1, 2).contiguous()
    gen_nhwc = gen.permute(0, 2, 3, 1).numpy()

    train_hashes = timed(f"{args.hash} of {len(train)} train images",
                         lambda: memo.perceptual_hashes(train, args.hash, args.hash_size))
    gen_hashes = timed(f"{args.hash} of {len(gen)} generated images",
                       lambda: memo.perceptual_hashes(gen_nhwc, args.hash, args.hash_size))
    dist, _ = timed(f"nearest hash, {len(gen)} x {len(train)}", lambda: memo.nearest_hashes(gen_hashes, train_hashes))
    copies = timed("hash_copies (hash generated + search + confirm)",
                   lambda: memo.hash_copies(gen, train, train_hashes, method=args.hash, hash_size=args.hash_size,
                                            threshold=args.threshold, min_correlation=args.min_correlation))
    print(f"  within {args.threshold} bits: {int((dist <= args.threshold).sum())} / {len(gen)}; "
          f"confirmed copies: {copies['n_confirmed']}; median bits to nearest: {copies['median_bits_to_nearest']}")

    extractor = evaluator_extractor(args.evaluator)
    train_f = timed(f"evaluator features of {len(train)} train images",
                    lambda: M.extract_features(train, extractor, batch_size=500).for_metric("fid"))
    gen_f = timed(f"evaluator features of {len(gen)} generated images",
                  lambda: M.extract_features(gen, extractor, batch_size=500).for_metric("fid"))
    d, _ = timed(f"nearest neighbours k=5, {len(gen_f)} x {len(train_f)} x {train_f.shape[1]}",
                 lambda: memo.nearest_neighbours(gen_f, train_f, k=5))
    print(f"  median distance to the nearest training image: {np.median(d[:, 0]):.3f}")
    held = torch.from_numpy(np.ascontiguousarray(test[: len(gen)])).permute(0, 3, 1, 2).contiguous()
    held_f = M.extract_features(held, extractor, batch_size=500).for_metric("fid")
    timed(f"held-out yardstick, nearest of {len(held_f)} test images x {len(train_f)} (since reference@<dataset> "
          "finds it once, each metrics@<run> saves this)", lambda: memo.heldout_distances(held_f, train_f))

    validation = train[-PARZEN_VALIDATION:]
    out = timed(f"Parzen: {len(gen)} samples, 10 sigmas on {len(validation)}, {len(test)} test",
                lambda: parzen_log_likelihood(gen, validation, test))
    print(f"  Parzen log-likelihood {out['log_likelihood']:.1f} +- {out['std_error']:.1f} nats, sigma {out['sigma']:.4f}")
    if args.parzen_real:
        real = train[: args.n]  # disjoint from the validation images when n <= 50,000
        out = timed(f"Parzen: {len(real)} real train images as samples",
                    lambda: parzen_log_likelihood(real, validation, test))
        print(f"  Parzen log-likelihood {out['log_likelihood']:.1f} +- {out['std_error']:.1f} nats, "
              f"sigma {out['sigma']:.4f}")
    print(f"process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
