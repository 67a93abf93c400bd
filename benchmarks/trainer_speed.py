"""Training speed on this machine: images/s per variant, and the trainer's overhead for DCGAN.

The overhead is measured against a plain single-file PyTorch loop with the identical networks,
losses, optimizers and batch size, in the same run, alternating the two so that machine load
affects both alike. Data are random images of the MNIST shape (speed does not depend on them).

    .venv/bin/python benchmarks/trainer_speed.py [--steps 60] [--repeats 3] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch

from ganlab.models import registry
from ganlab.models.base import DataSpec
from ganlab.models.dcgan import dcgan_discriminator, dcgan_generator
from ganlab.models.losses import d_loss_bce, g_loss_nonsaturating
from ganlab.train.trainer import TrainConfig, Trainer

SHAPE = (1, 28, 28)


def trainer_run(name: str, images: torch.Tensor, steps: int, batch: int) -> float:
    """images/s through the Trainer (grids and checkpoints only at the end, as in a long run)."""
    torch.manual_seed(0)
    cls = registry.get(name)
    v = cls(cls.Config(), DataSpec(SHAPE, 0), torch.device("cpu"))
    cfg = TrainConfig(steps=steps, batch_size=batch, checkpoint_every=10**9, sample_every=10**9, log_every=20,
                      n_samples=16, dvclive=True)
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        Trainer(v, images, None, cfg, out).fit(progress=False)
        dt = time.perf_counter() - t0
    return steps * batch * v.real_batches_per_step() / dt


def plain_run(images: torch.Tensor, steps: int, batch: int) -> float:
    """The same DCGAN update written as a bare loop: no seeding per batch, no logging, no checks."""
    torch.manual_seed(0)
    g, d = dcgan_generator(100, 1, 28, 64), dcgan_discriminator(1, 28, 64)
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
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads; 0 = torch's default")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    images = torch.rand(4096, *SHAPE) * 2 - 1
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores; "
          f"batch {args.batch}, {args.steps} steps, {SHAPE} images")

    trainer_rates, plain_rates = [], []
    trainer_run("dcgan", images, 5, args.batch)  # warm-up: allocator, kernels
    for _ in range(args.repeats):
        plain_rates.append(plain_run(images, args.steps, args.batch))
        trainer_rates.append(trainer_run("dcgan", images, args.steps, args.batch))
    best_plain, best_trainer = max(plain_rates), max(trainer_rates)
    print(f"dcgan plain loop   {best_plain:8.0f} images/s (best of {args.repeats}: {[round(r) for r in plain_rates]})")
    print(f"dcgan via Trainer  {best_trainer:8.0f} images/s (best of {args.repeats}: {[round(r) for r in trainer_rates]})")
    print(f"trainer overhead   {100 * (best_plain / best_trainer - 1):+.1f}% (target < 5%)")

    print("\nimages/s per variant through the Trainer (real images consumed, critic batches included):")
    for name in registry.names():
        print(f"  {name:8s} {trainer_run(name, images, max(10, args.steps // 3), args.batch):8.0f}")


if __name__ == "__main__":
    main()
