"""The cost of measuring 10,000 generated images: feature extraction plus IS, FID, KID and
precision/recall, as metrics@<run> does it (reference features cached), against
``torch_fidelity.calculate_metrics`` on the same images with the same extractor, in the same run.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/metrics_speed.py \
        --evaluator data/evaluators/mnist/evaluator.pt --data data/mnist [--n 10000] [--skip-fidelity]

The 10,000 "generated" images are MNIST test images and the reference 10,000 train images (a
generator's output costs the same to measure). Prints seconds per phase (extraction of the fake
set, of the real set, each metric), the peak resident memory of the process, and the ratio of
torch-fidelity's time to ganlab's for the same numbers. ganlab extracts the real features once
per data version (stage reference@<dataset>), so a run pays for its own images only; the
benchmark prints both the per-run cost and the cost with the reference extracted too.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch
import torch_fidelity

from ganlab.data.datasets import load_images
from ganlab.eval import fidelity
from ganlab.eval import metrics as M
from ganlab.eval.extractors import evaluator_extractor
from ganlab.images import nchw


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--evaluator", default="data/evaluators/mnist/evaluator.pt")
    parser.add_argument("--data", default="data/mnist")
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--skip-fidelity", action="store_true", help="ganlab's path only")
    args = parser.parse_args()

    extractor = evaluator_extractor(args.evaluator)
    fake_x = nchw(load_images(args.data, "test")[0].images[: args.n])
    train = load_images(args.data, "train")[0].images
    pick = np.sort(np.random.default_rng(0).choice(len(train), args.n, replace=False))
    real_x = nchw(train[pick])
    print(f"threads {torch.get_num_threads()}, {args.n} generated vs {args.n} real images "
          f"{tuple(fake_x.shape[1:])}, extractor {extractor.name} ({extractor.trained_on})")
    print(f"peak RSS after loading: {peak_rss_mib():.0f} MiB")

    t0 = time.perf_counter()
    fake = M.extract_features(fake_x, extractor, batch_size=args.batch_size)
    t_fake = time.perf_counter() - t0
    t0 = time.perf_counter()
    real = M.extract_features(real_x, extractor, batch_size=args.batch_size)
    t_real = time.perf_counter() - t0
    phases = {}
    for name, fn in (("is", lambda: M.inception_score(fake.for_metric("isc"))),
                     ("fid", lambda: M.fid(real.for_metric("fid"), fake.for_metric("fid"))),
                     ("kid", lambda: M.kid(real.for_metric("kid"), fake.for_metric("kid"))),
                     ("pr", lambda: M.precision_recall(real.for_metric("prc"), fake.for_metric("prc")))):
        t0 = time.perf_counter()
        value = fn()
        phases[name] = time.perf_counter() - t0
        print(f"  {name:4s} {phases[name]:6.2f} s  {value}")
    per_run = t_fake + sum(phases.values())
    print(f"features: generated {t_fake:.2f} s, real {t_real:.2f} s (once per data version in reference@)")
    print(f"ganlab per run (fake features + all metrics): {per_run:.2f} s; with the real features too: "
          f"{per_run + t_real:.2f} s; peak RSS {peak_rss_mib():.0f} MiB")

    if args.skip_fidelity:
        return
    t0 = time.perf_counter()
    theirs = torch_fidelity.calculate_metrics(
        input1=M.UInt8Images(fake_x), input2=M.UInt8Images(real_x), cuda=False, isc=True, fid=True, kid=True, prc=True,
        batch_size=args.batch_size, cache=False, verbose=False, save_cpu_ram=True, **fidelity.calculate_metrics_kwargs(extractor))
    t_fid = time.perf_counter() - t0
    print(f"torch_fidelity.calculate_metrics, same images and extractor: {t_fid:.2f} s "
          f"(FID {theirs['frechet_inception_distance']:.4f}); peak RSS {peak_rss_mib():.0f} MiB")
    print(f"ratio torch-fidelity / ganlab: {t_fid / (per_run + t_real):.2f}x with the reference extracted, "
          f"{t_fid / per_run:.2f}x per run with it cached")


if __name__ == "__main__":
    main()
