"""What checking a model file costs (issue 26): ``read_checkpoint`` of a DCGAN checkpoint (weights and
Adam state) against ``torch.load`` of the same file, and the integrity check alone (the SHA-256 seal
ganlab writes as the zip's comment; see ganlab.runs.check_integrity). Best of --repeat reads, warm
page cache:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/model_file_check.py [--width 64] [--side 64] [--repeat 7]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from ganlab.models import registry
from ganlab.models.base import DataSpec
from ganlab.runs import Checkpoint, UnreadableCheckpoint, check_integrity, read_checkpoint, write_checkpoint


def best_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--side", type=int, default=64, help="image side: 32 or 64")
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    cls = registry.get("dcgan")
    variant = cls(cls.Config(width=args.width), DataSpec((3, args.side, args.side), 0), torch.device("cpu"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "checkpoint.pt"
        write_checkpoint(path, Checkpoint(1, "dcgan", "-", variant.state_dict(),
                                          [{"cpu": torch.get_rng_state(), "cuda": []}]))
        plain = best_ms(lambda: torch.load(path, weights_only=True), args.repeat)
        checked = best_ms(lambda: read_checkpoint(path), args.repeat)
        seal = best_ms(lambda: check_integrity(path, "checkpoint", UnreadableCheckpoint), args.repeat)
        size = path.stat().st_size / 2**20
    print(f"DCGAN width {args.width}, {args.side} px: checkpoint {size:.1f} MiB")
    print(f"  torch.load            {plain:7.1f} ms")
    print(f"  read_checkpoint       {checked:7.1f} ms  ({checked / plain:.2f}x torch.load)")
    print(f"  integrity check alone {seal:7.1f} ms  ({size / 1024 / (seal / 1e3):.2f} GiB/s)")


if __name__ == "__main__":
    main()
