"""Training speed on this machine: images/s per variant, and the trainer's overhead for DCGAN.

The overhead is measured against a plain single-file PyTorch loop with the identical networks,
losses, optimizers and batch size, in the same run, alternating the two so that machine load
affects both alike. Data are random images of the MNIST shape (speed does not depend on them).
Then the CPU knobs, each against the plain loop measured beside it: channels-last memory
format, torch.compile of both networks, and the number of intra-op threads.

How close to the machine's limit a training step runs (``--flops-only``): the FLOPs of one step of
the dcgan and wgan_gp runs at their params.yaml settings (every matmul and convolution of every
forward and backward pass of the update, WGAN-GP's double backward included, as
torch.utils.flop_counter counts them), divided by the step's time through the Trainer, as a share
of the float32 matmul throughput a large torch.mm reaches at the same thread count, in the same
process. At one thread both are timed by the process's CPU time, so that other work on a shared
machine's cores counts little (``--clock wall`` to time the wall clock). With ``--baseline OTHER/src``
(another checkout, e.g. ``git worktree add /tmp/base <commit>``) the same is measured for that code in
the same run, old and new alternating in fresh processes, for the runs of ``--compare`` too (their
settings from params.yaml, else profiles/all.yaml).

    .venv/bin/python benchmarks/trainer_speed.py [--steps 60] [--repeats 3] [--width 64] [--no-knobs]
    .venv/bin/python benchmarks/trainer_speed.py --flops-only --threads 1 [--baseline /tmp/base/src]
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from ganlab.models import registry
from ganlab.models.base import DataSpec, Variant
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
        loss_g.backward(inputs=list(g.parameters()))  # as Variant.update: no D weight gradients in G's update
        opt_g.step()
        loss_d.item(), loss_g.item()  # the trainer reads both losses every step too
    return steps * batch / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--width", type=int, default=64, help="DCGAN feature maps (params.yaml's CPU profile uses 32)")
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads (0: torch's default)")
    ap.add_argument("--no-knobs", action="store_true", help="skip channels-last / torch.compile / threads")
    ap.add_argument("--knobs-only", action="store_true", help="only the channels-last / torch.compile / threads part")
    ap.add_argument("--flops-only", action="store_true", help="only the FLOP share (and old-vs-new step times)")
    ap.add_argument("--params", default="params.yaml", help="the run settings of --flops-only")
    ap.add_argument("--baseline", default="", help="another checkout's src folder: its step times beside these")
    ap.add_argument("--compare", default=",".join(COMPARED), help="runs whose step time --baseline compares")
    ap.add_argument("--timed-steps", type=int, default=8, help="steps timed per run and process in --flops-only")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="",
                    help="--flops-only's timer (default: the process's CPU time at 1 thread, else wall time)")
    ap.add_argument("--worker", default="", help=argparse.SUPPRESS)  # one run's timing, in a child process
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.worker:
        print(json.dumps(measure_run(json.loads(args.worker))))
        return
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores", end="")
    if args.flops_only:
        flop_share(args)
        return
    print(f"; batch {args.batch}, {args.steps} steps, {SHAPE} images")
    images = torch.rand(4096, *SHAPE) * 2 - 1
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


# --------------------------------------------------------------------------- how close to the machine's limit

FLOP_RUNS = ("dcgan", "wgan_gp")  # the FLOP share is printed for these runs of params.yaml
COMPARED = ("dcgan", "wgan_gp", "wgan", "sngan", "sagan", "began", "ebgan", "bigan", "cyclegan", "lapgan", "progan",
            "acgan", "infogan", "cvae_gan")  # the variants whose step times --baseline compares (run names)
#: wall time, or the CPU time of the process: with one thread and other work on the machine's cores, the CPU
#: time a step took is what it costs, where the wall time also holds the waits for a core
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
DATA = {"mnist": ((1, 28, 28), 10), "cifar10": ((3, 32, 32), 10), "domains": ((1, 28, 28), 2)}  # shape, classes


def step_flops(variant: Variant, x: torch.Tensor, y: torch.Tensor | None, step: int = 0) -> tuple[int, dict[str, int]]:
    """FLOPs of one training step, ``variant.step(x, y, step)``, as torch.utils.flop_counter counts them: every
    matmul and convolution of every forward and backward pass of the update (all D and G passes, a gradient
    penalty's double backward), elementwise work not counted. Counted on a copy: ``variant`` and the global
    RNG are left as they were. Returns the total and the count per operator."""
    twin = copy.deepcopy(variant)
    twin.nets.train()
    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _GlobalOnly()
    with torch.random.fork_rng(devices=[]), counter:
        twin.step(x, y, step)
    return counter.get_total_flops(), {str(op): n for op, n in counter.get_flop_counts()["Global"].items()}


class _GlobalOnly:
    """Stands in for FlopCounterMode's per-module tracker, whose hooks break ``torch.autograd.grad`` on a leaf
    (the gradient penalty's interpolates; pytorch/pytorch#131753): every FLOP is booked under "Global" alone,
    which is all step_flops reads."""

    parents = frozenset({"Global"})

    def __enter__(self) -> "_GlobalOnly":
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def matmul_peak(n: int = 2048, repeats: int = 5, clock: Any = time.perf_counter) -> float:
    """The machine's float32 matmul throughput, FLOP/s, at the current thread count: best of ``repeats``
    n x n torch.mm (2 n^3 FLOPs each), timed by ``clock``."""
    a, b, c = torch.randn(n, n), torch.randn(n, n), torch.empty(n, n)
    torch.mm(a, b, out=c)  # warm-up: MKL's buffers and threads
    best = float("inf")
    for _ in range(repeats):
        t0 = clock()
        torch.mm(a, b, out=c)
        best = min(best, clock() - t0)
    return 2 * n**3 / best


def run_spec(params: Path, name: str) -> dict[str, Any]:
    """What a child process needs to time run ``name``: its variant, model settings, data shape and train
    settings, from ``params`` (or, for a run only the all profile has, from profiles/all.yaml over it)."""
    from ganlab.params import load_params

    models = load_params(params).models
    if name not in models:
        from ganlab.catalogue import render_profile

        with tempfile.TemporaryDirectory() as tmp:
            rendered = Path(tmp) / "params.yaml"
            rendered.write_text(render_profile("all", params))
            models = load_params(rendered).models
    run = models[name]
    model = dataclasses.asdict(run.variant_config())
    if run.variant == "progan":  # short phases, so that the timed steps are at the full resolution, as most of a run
        model["phase_steps"] = 2
    shape, classes = DATA[run.data]
    return {"run": name, "variant": run.variant, "model": model, "shape": shape, "classes": classes,
            "batch_size": run.train.batch_size, "log_every": run.train.log_every}


def measure_run(spec: dict[str, Any]) -> dict[str, Any]:
    """FLOPs of one step of ``spec``'s run, the times of ``timed_steps`` steps through the Trainer (s each), and the
    matmul peak measured in the same process just before and after them (the best of the two, FLOP/s), all
    on the clock ``spec["clock"]`` names (CLOCKS)."""
    clock = CLOCKS[spec["clock"]]
    cls = registry.get(spec["variant"])
    torch.manual_seed(0)
    variant = cls(cls.Config(**spec["model"]), DataSpec(tuple(spec["shape"]), spec["classes"]), torch.device("cpu"))
    bs, timed = spec["batch_size"], spec["timed_steps"]
    warm = 14 if spec["variant"] == "progan" else 3  # progan: past its growth (phase_steps 2), to 32 px stable
    images = torch.rand(max(4096, 8 * bs), *spec["shape"]) * 2 - 1
    labels = torch.arange(len(images)) % spec["classes"]
    # step ``warm`` is counted (on a copy, in the trainer's layout and growth phase) and the peak measured, the
    # next ``timed`` are timed from one call of the variant's step to the next, the last one only ends the timing
    cfg = TrainConfig(steps=warm + timed + 2, batch_size=bs, checkpoint_every=10**9, sample_every=10**9,
                      log_every=spec["log_every"], n_samples=16, dvclive=True)
    entries: list[float] = []
    counted: list[tuple[int, dict[str, int]]] = []
    peaks: list[float] = []
    step = variant.step

    def timed_step(x: torch.Tensor, y: torch.Tensor | None, s: int) -> dict[str, float]:
        entries.append(clock())
        if s == warm:
            del variant.step  # the copy that step_flops counts steps as the variant's class does
            counted.append(step_flops(variant, x, y, s))
            variant.step = timed_step
            peaks.append(matmul_peak(repeats=3, clock=clock))
        return step(x, y, s)

    variant.step = timed_step
    with tempfile.TemporaryDirectory() as out:
        Trainer(variant, images, labels, cfg, out).fit(progress=False)
    peaks.append(matmul_peak(repeats=3, clock=clock))
    intervals = [b - a for a, b in zip(entries, entries[1:])][warm + 1 :]
    return {"flops": counted[0][0], "per_op": counted[0][1], "seconds": intervals, "peak": max(peaks)}


def in_child(spec: dict[str, Any], src: str, threads: int) -> dict[str, Any]:
    """measure_run in a fresh process importing ganlab from ``src`` (this checkout's or the baseline's)."""
    env = {**os.environ, "PYTHONPATH": src, "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run([sys.executable, __file__, "--threads", str(threads), "--worker", json.dumps(spec)],
                          env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{spec['run']} with {src}: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def flop_share(args: argparse.Namespace) -> None:
    """FLOPs per step, achieved FLOP/s and its share of the matmul peak for FLOP_RUNS (and, with --baseline,
    the same for the baseline's code and the --compare runs), each run's processes alternating old and new.

    On a machine shared with other work both the steps and the peak slow down with its load, so each
    process measures its own peak beside its steps: its share is (FLOPs / its median step) / its peak, and
    the shares and the old/new step-time ratios of neighbouring processes are summarised by their medians."""
    threads = torch.get_num_threads()
    clock = args.clock or ("cpu" if threads == 1 else "wall")  # CPU time sums the threads' (spinning) time
    here = str(Path(registry.__file__).resolve().parents[2])  # the src folder this process imports ganlab from
    trees = {"new": here} | ({"old": str(Path(args.baseline).resolve())} if args.baseline else {})
    runs = list(dict.fromkeys([*FLOP_RUNS, *(args.compare.split(",") if args.baseline else [])]))
    print(f"\nsteps timed through the Trainer at each run's settings (--params {args.params}): {args.timed_steps} "
          f"steps in each of {args.repeats} processes per code, alternating, on the {clock} clock; "
          f"{', '.join(f'{k} = {v}' for k, v in trees.items())}")
    print(f"FLOPs: the matmuls and convolutions of every forward and backward of one step (torch.utils.flop_counter); "
          f"peak: float32 torch.mm 2048 x 2048 at {threads} thread(s), best of 3, before and after each process's "
          "steps; all figures medians over the processes\n")
    print(f"{'run':9s} {'code':4s} {'GFLOP/step':>10s} {'ms/step':>8s} {'GFLOP/s':>8s} {'peak':>6s} {'of peak':>8s}"
          "  ms/step of each process")
    for name in runs:
        spec = {**run_spec(Path(args.params), name), "timed_steps": args.timed_steps, "clock": clock}
        by_tree: dict[str, list[dict[str, Any]]] = {tree: [] for tree in trees}
        for _ in range(args.repeats):  # the machine's load falls on old and new alike
            for tree, src in trees.items():
                by_tree[tree].append(in_child(spec, src, threads))
        typical = {}
        for tree, measured in by_tree.items():
            flops = measured[0]["flops"]
            step_s = [statistics.median(m["seconds"]) for m in measured]
            typical[tree] = step_s
            share = statistics.median(flops / t / m["peak"] for t, m in zip(step_s, measured))
            print(f"{name:9s} {tree:4s} {flops / 1e9:10.3f} {1000 * statistics.median(step_s):8.1f} "
                  f"{flops / statistics.median(step_s) / 1e9:8.1f} "
                  f"{statistics.median(m['peak'] for m in measured) / 1e9:6.1f} {100 * share:7.1f}%  "
                  f"{[round(1000 * t, 1) for t in step_s]}")
        if name in FLOP_RUNS:
            per_op = by_tree["new"][0]["per_op"]
            print(f"{'':14s} by operator: " + ", ".join(
                f"{op.removeprefix('aten.')} {100 * n / sum(per_op.values()):.0f}%"
                for op, n in sorted(per_op.items(), key=lambda kv: -kv[1])))
        if "old" in by_tree:
            ratio = statistics.median(n / o for n, o in zip(typical["new"], typical["old"]))
            flops_ratio = by_tree["new"][0]["flops"] / by_tree["old"][0]["flops"]
            print(f"{'':14s} new/old: step time x{ratio:.3f} (median of the {args.repeats} neighbouring pairs), "
                  f"FLOPs x{flops_ratio:.3f}", flush=True)


if __name__ == "__main__":
    main()
