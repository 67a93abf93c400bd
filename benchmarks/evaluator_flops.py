"""How close an evaluator's training step is to this machine's limit: its achieved FLOP/s as a share of the
float32 matmul throughput at the same thread count, and where a step's time goes.

    .venv/bin/python benchmarks/evaluator_flops.py [--dataset cifar10] [--params params.yaml] [--steps 60] [--threads 2]

The network and SGD settings are evaluators.<dataset>'s in the params (stem, width, features, batch size, label
smoothing); the images are random uint8 of the dataset's shape (a step's time does not depend on the pixels),
so it needs no data. FLOPs are torch.utils.flop_counter's count of one step (every forward and backward matmul
and convolution); the peak is benchmarks/trainer_speed.py's n x n torch.mm. Printed: the step's parts
(augmentation and conversion, forward with the loss, backward, optimizer and schedule), the FLOP/s share, and
the epoch that rate implies. Run it with the machine quiet.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trainer_speed import matmul_peak  # noqa: E402 - the benchmarks' one measure of the peak

from ganlab.eval.evaluator import LAYOUT, EvaluatorNet, augment  # noqa: E402
from ganlab.images import to_unit_range  # noqa: E402
from ganlab.params import load_params  # noqa: E402

SHAPES = {"cifar10": (3, 32, 50000), "mnist": (1, 28, 60000), "fashion-mnist": (1, 28, 60000)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="cifar10", choices=sorted(SHAPES))
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--steps", type=int, default=60, help="timed steps (after 5 warm-up steps)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_params(args.params).evaluators[args.dataset]
    channels, size, n_train = SHAPES[args.dataset]
    peak = matmul_peak()
    torch.manual_seed(0)
    net = EvaluatorNet(channels, 10, size, cfg.width, cfg.features, cfg.stem).to(memory_format=LAYOUT)
    opt = torch.optim.SGD([q for q in net.parameters() if q.requires_grad], lr=cfg.lr, momentum=cfg.momentum,
                          nesterov=True, weight_decay=cfg.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=args.steps + 10)
    g = torch.Generator().manual_seed(0)
    bs = cfg.batch_size
    images = torch.randint(0, 256, (bs * 8, channels, size, size), dtype=torch.uint8)
    labels = torch.randint(0, 10, (bs * 8,))

    def step(k: int, clock: dict[str, float] | None = None) -> None:
        t0 = time.perf_counter()
        part = slice((k % 8) * bs, (k % 8 + 1) * bs)
        x = to_unit_range(augment(images[part], cfg.augment, g), LAYOUT)
        t1 = time.perf_counter()
        _, logits = net(x)
        loss = F.cross_entropy(logits, labels[part], label_smoothing=cfg.label_smoothing)
        loss.item()
        t2 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        t3 = time.perf_counter()
        opt.step()
        schedule.step()
        t4 = time.perf_counter()
        if clock is not None:
            for name, dt in (("augment", t1 - t0), ("forward", t2 - t1), ("backward", t3 - t2), ("optimizer", t4 - t3)):
                clock[name] += dt

    net.train()
    with FlopCounterMode(display=False) as counter:
        step(0)
    flops = counter.get_total_flops()
    for k in range(4):
        step(k + 1)
    clock = dict.fromkeys(("augment", "forward", "backward", "optimizer"), 0.0)
    for k in range(args.steps):
        step(k, clock)
    per_step = sum(clock.values()) / args.steps
    compute = (clock["forward"] + clock["backward"]) / args.steps
    print(f"evaluator {args.dataset}: stem {cfg.stem}, width {cfg.width}, batch {bs}, {args.threads} threads, "
          f"torch {torch.__version__}")
    print(f"matmul peak {peak / 1e9:.0f} GFLOP/s; one step {flops / 1e9:.2f} GFLOP")
    print("step parts (ms): " + ", ".join(f"{k} {v / args.steps * 1e3:.1f}" for k, v in clock.items())
          + f"; total {per_step * 1e3:.1f}")
    print(f"achieved {flops / per_step / 1e9:.0f} GFLOP/s = {flops / per_step / peak:.0%} of the peak "
          f"(forward and backward alone: {flops / compute / peak:.0%})")
    print(f"an epoch of {n_train:,} images at this rate: {n_train / bs * per_step:.1f} s")


if __name__ == "__main__":
    main()
