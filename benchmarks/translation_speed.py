"""Training speed of the translation variants (cyclegan, discogan): steps/s of the real ``step``.

Each config trains on random two-domain data of the MNIST shape (speed does not depend on the
pixels), labels alternating 0/1, through the Trainer (channels-last, as the default runs), with
grids and checkpoints only at the end. Prints steps/s and images/s per config.

    .venv/bin/python benchmarks/translation_speed.py [--seconds 20] [--batch 64]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from ganlab.models import registry
from ganlab.models.base import DataSpec
from ganlab.train.trainer import TrainConfig, Trainer

SHAPE = (1, 28, 28)
CONFIGS = {  # name: (variant, model config)
    "cyclegan w16 b3": ("cyclegan", {"width": 16, "n_blocks": 3}),
    "cyclegan w16 b6": ("cyclegan", {"width": 16, "n_blocks": 6}),
    "cyclegan w32 b3": ("cyclegan", {"width": 32, "n_blocks": 3}),
    "cyclegan w32 b6": ("cyclegan", {"width": 32, "n_blocks": 6}),
    "discogan w32": ("discogan", {"width": 32}),
    "discogan w64": ("discogan", {"width": 64}),
}


def steps_per_second(variant: str, model: dict, batch: int, seconds: float) -> float:
    """Steps/s over about ``seconds`` of training, after 3 warm-up steps."""
    torch.manual_seed(0)
    cls = registry.get(variant)
    g = torch.Generator().manual_seed(0)
    images = torch.rand(4096, *SHAPE, generator=g) * 2 - 1
    labels = torch.arange(len(images)) % 2
    v = cls(cls.Config(**model), DataSpec(SHAPE, 2), torch.device("cpu"))

    def run(steps: int) -> float:
        cfg = TrainConfig(steps=steps, batch_size=batch, checkpoint_every=10**9, sample_every=10**9, log_every=10**9,
                          n_samples=16, dvclive=False)
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            Trainer(v, images, labels, cfg, out).fit(progress=False)
            return time.perf_counter() - t0

    warm = run(3)
    steps = max(5, int(seconds / (warm / 3)))
    return steps / run(steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of training per config")
    parser.add_argument("--batch", type=int, default=64, help="images per step (both domains)")
    parser.add_argument("--only", default="", help="run the configs whose name contains this")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}")
    for name, (variant, model) in CONFIGS.items():
        if args.only in name:
            rate = steps_per_second(variant, model, args.batch, args.seconds)
            print(f"{name:20s} {rate:6.2f} steps/s  {rate * args.batch:7.0f} images/s  "
                  f"{180 * rate:6.0f} steps in 3 min")


if __name__ == "__main__":
    main()
