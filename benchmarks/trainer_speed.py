"""Training speed on this machine: images/s per variant, and the trainer's overhead for DCGAN.

The overhead is measured against a plain single-file PyTorch loop with the identical networks,
losses, optimizers and batch size, in the same run, alternating the two so that machine load
affects both alike. Data are random images of the MNIST shape (speed does not depend on them).
Then the CPU knobs, each against the plain loop measured beside it: channels-last memory
format, torch.compile of both networks, and the number of intra-op threads.

    .venv/bin/python benchmarks/trainer_speed.py [--steps 60] [--repeats 3] [--width 64] [--no-knobs]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time

import torch

from ganlab.models import registry
from ganlab.models.base import DataSpec
from ganlab.models.blocks import dcgan_discriminator, dcgan_generator
from ganlab.models.losses import d_loss_bce, g_loss_nonsaturating
from ganlab.train.trainer import TrainConfig, Trainer

SHAPE = (1, 28, 28)


def trainer_run(name: str, images: torch.Tensor, steps: int, batch: int, width: int = 64,
                channels_last: bool = True) -> float:
    """images/s through the Trainer (grids and checkpoints only at the end, as in a long run)."""
    torch.manual_seed(0)
    cls = registry.get(name)
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    v = cls(cls.Config(**({"width": width} if "width" in fields else {})), DataSpec(SHAPE, 10), torch.device("cpu"))
    labels = torch.arange(len(images)) % 10
    cfg = TrainConfig(steps=steps, batch_size=batch, checkpoint_every=10**9, sample_every=10**9, log_every=20,
                      n_samples=16, dvclive=True, channels_last=channels_last)
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        Trainer(v, images, labels, cfg, out).fit(progress=False)
        dt = time.perf_counter() - t0
    return v.batches_before(steps) * batch / dt


def plain_run(images: torch.Tensor, steps: int, batch: int, width: int = 64, channels_last: bool = False,
              compiled: bool = False) -> float:
    """The same DCGAN update written as a bare loop: no seeding per batch, no logging, no checks."""
    torch.manual_seed(0)
    g, d = dcgan_generator(100, 1, 28, width), dcgan_discriminator(1, 28, width)
    if channels_last:
        g, d = g.to(memory_format=torch.channels_last), d.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    if compiled:
        g, d = torch.compile(g), torch.compile(d)
        warm = images[:batch]  # compile outside the timed region
        for _ in range(2):
            loss = d(g(torch.randn(batch, 100))).mean() + d(warm).mean()
            loss.backward()
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    t0 = time.perf_counter()
    for s in range(steps):
        x = images[torch.randint(0, len(images), (batch,))]
        fake = g(torch.randn(batch, 100))
        loss_d = d_loss_bce(d(x), d(fake.detach()))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        loss_g = g_loss_nonsaturating(d(fake))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        loss_d.item(), loss_g.item()  # the trainer reads both losses every step too
    return steps * batch / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--width", type=int, default=64, help="DCGAN feature maps (params.yaml's CPU profile uses 32)")
    ap.add_argument("--no-knobs", action="store_true", help="skip channels-last / torch.compile / threads")
    ap.add_argument("--knobs-only", action="store_true", help="only the channels-last / torch.compile / threads part")
    args = ap.parse_args()
    images = torch.rand(4096, *SHAPE) * 2 - 1
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores; "
          f"batch {args.batch}, {args.steps} steps, {SHAPE} images")

    if not args.knobs_only:
        overhead_and_variants(images, args)
    if not args.no_knobs:
        knobs(images, args)


def overhead_and_variants(images: torch.Tensor, args: argparse.Namespace) -> None:
    trainer_run("dcgan", images, 5, args.batch, args.width)  # warm-up: allocator, kernels
    for channels_last in (False, True):
        trainer_rates, plain_rates = [], []
        for _ in range(args.repeats):
            plain_rates.append(plain_run(images, args.steps, args.batch, args.width, channels_last=channels_last))
            trainer_rates.append(trainer_run("dcgan", images, args.steps, args.batch, args.width, channels_last))
        best_plain, best_trainer = max(plain_rates), max(trainer_rates)
        fmt = "channels-last" if channels_last else "NCHW"
        print(f"dcgan plain loop   {best_plain:8.0f} images/s, {fmt} (best of {args.repeats}: "
              f"{[round(r) for r in plain_rates]})")
        print(f"dcgan via Trainer  {best_trainer:8.0f} images/s, {fmt} (best of {args.repeats}: "
              f"{[round(r) for r in trainer_rates]})")
        print(f"trainer overhead   {100 * (best_plain / best_trainer - 1):+.1f}% (target < 5%)")

    print(f"\nimages/s per variant through the Trainer, width {args.width} where a variant has one "
          "(real images consumed, critic batches included), NCHW and channels-last (the default):")
    steps = max(10, args.steps // 3)
    for name in registry.names():
        nchw = max(trainer_run(name, images, steps, args.batch, args.width, False) for _ in range(2))
        nhwc = max(trainer_run(name, images, steps, args.batch, args.width, True) for _ in range(2))
        print(f"  {name:8s} {nchw:8.0f} {nhwc:8.0f}  x{nhwc / nchw:.2f}")


def knobs(images: torch.Tensor, args: argparse.Namespace) -> None:
    print("\nCPU knobs on the plain DCGAN loop, each against the default measured beside it (best of repeats):")
    default_threads = torch.get_num_threads()
    settings = {
        "channels-last": dict(channels_last=True),
        "torch.compile": dict(compiled=True),
    }
    for label, kw in settings.items():
        base, knob = [], []
        for _ in range(args.repeats):
            base.append(plain_run(images, args.steps, args.batch, args.width))
            try:
                knob.append(plain_run(images, args.steps, args.batch, args.width, **kw))
            except Exception as exc:  # noqa: BLE001 - a knob that cannot run here is a finding too
                print(f"  {label:14s} failed: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
                break
        if knob:
            print(f"  {label:14s} {max(knob):7.0f} vs {max(base):7.0f} images/s: x{max(knob) / max(base):.2f}")
    for threads in sorted({1, default_threads, os.cpu_count() or 1}):
        torch.set_num_threads(threads)
        rate = max(plain_run(images, args.steps, args.batch, args.width) for _ in range(args.repeats))
        print(f"  {threads} thread(s)    {rate:7.0f} images/s")
    torch.set_num_threads(default_threads)


if __name__ == "__main__":
    main()
