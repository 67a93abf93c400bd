"""The one training loop: seeding, device, progress, logging, checkpoints, resume, for every variant.

A variant does its own update in ``step`` (see :mod:`ganlab.models.base`); the trainer feeds it
batches in a reproducible order and takes care of everything around it:

- seeding: the same seed and config give the same weights on CPU; the batch order is a
  permutation per epoch drawn from (seed, epoch), so it depends on nothing else;
- checkpoints every ``checkpoint_every`` steps, written atomically, holding the networks,
  optimizers, step and RNG state, so that ``resume`` ends with the same weights as an
  uninterrupted run; SIGINT/SIGTERM write one and stop cleanly;
- a NaN or infinite loss stops training with a message naming the variant, step and loss,
  and leaves the last good checkpoint as it was;
- sample grids from a fixed noise batch, so grids are comparable over time;
- every loss and images/s logged with dvclive (OUT/dvclive), for ``dvc plots``;
- bfloat16 autocast on CUDA (``amp``), and data parallelism under ``torchrun``
  (see :mod:`ganlab.train.distributed`);
- the final generator exported on its own (OUT/generator.pt) for evaluation and reports.

The files' names and formats are :mod:`ganlab.runs`'s, the device and precision choice
:mod:`ganlab.device`'s, the picture writing :mod:`ganlab.images`'s; this module is the loop.

A checkpoint carries a fingerprint of everything that shapes the weights (variant, its
config, the data, seed, batch size, precision); ``fit(resume=True)`` continues only from a
checkpoint with the same fingerprint and otherwise starts over, so a DVC stage can keep its
checkpoint between runs (``persist: true``) and still never mixes two configurations.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import shutil
import signal
import time
from pathlib import Path
from typing import Any, Protocol

import torch
from tqdm.auto import tqdm

from ganlab import codedeps
from ganlab.device import autocast_dtype
from ganlab.errors import GanlabError
from ganlab.files import atomic_write, write_json_atomic
from ganlab.images import save_figure, save_grid
from ganlab.models.base import Variant
from ganlab.runs import Checkpoint, RunDir, UnreadableCheckpoint, export_generator, read_checkpoint, write_checkpoint
from ganlab.train.config import TrainParams
from ganlab.train import distributed

log = logging.getLogger(__name__)


class TrainingDiverged(GanlabError):
    """A loss became NaN or infinite."""


class Monitor(Protocol):
    """A score of the generator on the run's data, taken while it trains: at step 0, every
    ``eval_every`` steps and at the end (NLL-oracle for the sequence oracle, BLEU for text)."""

    def __call__(self, variant: Variant) -> dict[str, float]:
        """The scores, from samples of ``variant`` (called in eval mode, without gradients)."""

    def protocol(self) -> dict[str, Any]:
        """How they are measured (sample counts, seeds, references), written beside them."""


#: the trainer's settings are params.yaml's ``models.<run>.train`` section, one dataclass for both
TrainConfig = TrainParams


def code_fingerprint(cls: type, src: Path | None = None) -> str:
    """A hash of the source of every module the variant's class hierarchy and this trainer import, read
    statically (ganlab.codedeps: the same closure as the train stage's code deps in dvc.yaml, so the shared
    networks in blocks.py and the losses count as much as the variant's own file): a checkpoint written by
    other code is not resumed (DVC re-runs a stage when its code changes, and a persisted checkpoint must
    not then hand back the old result)."""
    src = src if src is not None else Path(__file__).resolve().parents[2]  # the folder holding the package
    roots = {k.__module__ for k in cls.__mro__ if k.__module__.startswith("ganlab.")} | {__name__}
    h = hashlib.sha256()
    for name in codedeps.module_closure(sorted(roots), src):
        origin = codedeps.module_file(name, src)
        h.update(name.encode() + (origin.read_bytes() if origin is not None else b""))
    return h.hexdigest()[:16]


class Trainer:
    def __init__(self, variant: Variant, images: torch.Tensor, labels: torch.Tensor | None,
                 config: TrainConfig, out: str | Path, data_id: str = "",
                 test: tuple[torch.Tensor, torch.Tensor | None] | None = None, monitor: Monitor | None = None) -> None:
        self.variant, self.config, self.out = variant, config, Path(out)
        self.run_dir = RunDir(self.out)
        self.images, self.labels, self.test, self.monitor = images, labels, test, monitor
        self.step = 0
        self.rank, self.world = distributed.rank(), distributed.world_size()
        if config.batch_size % self.world:
            raise GanlabError(f"batch_size = {config.batch_size} is not divisible by the {self.world} processes")
        self._stop_signal: int | None = None
        self._order: tuple[int, torch.Tensor] = (-1, torch.empty(0))
        self.test_results: dict[str, float] = {}
        self.evals: list[dict[str, float]] = []  # the monitor's scores: {"step": s, name: value}
        self.test_protocol: dict[str, Any] = {}
        self.amp = autocast_dtype(config.amp, variant.device)
        self.memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
        variant.nets.to(memory_format=self.memory_format)  # only 4-D weights change; parameters stay the same objects
        g = torch.Generator().manual_seed(config.seed + 1)  # the grid's noise: fixed for the run
        self.fixed_noise, self.fixed_labels = variant.grid_inputs(config.n_samples, g)
        pick = torch.randperm(len(images), generator=g)[: config.n_samples]  # real images for reconstructions
        self.fixed_real = self.layout(images[pick].to(variant.device))
        self.fixed_real_labels = labels[pick].to(variant.device) if labels is not None else None
        variant.prepare(images, labels, config.seed)
        self.fingerprint = self._fingerprint(data_id or f"{tuple(images.shape)}")

    def _fingerprint(self, data_id: str) -> str:
        c = self.config
        what = {
            "code": code_fingerprint(type(self.variant)),
            "variant": self.variant.name,
            "config": dataclasses.asdict(self.variant.config),
            "data": [dataclasses.asdict(self.variant.data), data_id],
            "train": {"seed": c.seed, "batch_size": c.batch_size, "amp": str(self.amp), "world": self.world},
        }
        return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def layout(self, x: torch.Tensor) -> torch.Tensor:
        """An image batch in the trainer's memory format (channels-last by default); other tensors as they are."""
        return x.contiguous(memory_format=self.memory_format) if x.dim() == 4 else x

    @property
    def writer(self) -> bool:
        """Only one process writes files."""
        return self.rank == 0

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.amp is None:
            return contextlib.nullcontext()
        return torch.autocast(self.variant.device.type, dtype=self.amp)

    # ------------------------------------------------------------------ batches

    def batch(self, index: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The index-th batch of the data stream: a function of (seed, index) alone, so resume sees
        the same data. Under torchrun each process takes every world-th image of it."""
        n, bs = len(self.images), self.config.batch_size
        per_epoch = max(1, n // bs)
        epoch, k = divmod(index, per_epoch)
        if self._order[0] != epoch:  # one permutation per epoch, drawn once (0.4 ms for MNIST's 60,000)
            g = torch.Generator().manual_seed(self.config.seed * 100_003 + epoch)
            self._order = (epoch, torch.randperm(n, generator=g))
        order = self._order[1]
        idx = order[k * bs : (k + 1) * bs][self.rank :: self.world]
        x = self.layout(self.images[idx].to(self.variant.device, non_blocking=True))
        y = self.labels[idx].to(self.variant.device) if self.labels is not None else None
        return x, y

    # ------------------------------------------------------------------ checkpoints

    def save_checkpoint(self) -> Path | None:
        rng = distributed.gather_objects(
            {"cpu": torch.get_rng_state(),
             "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []})
        if not self.writer:
            return None
        return write_checkpoint(self.run_dir.checkpoint, Checkpoint(
            step=self.step, variant=self.variant.name, fingerprint=self.fingerprint,
            model=self.variant.state_dict(), rng=rng))  # rng: one entry per process

    def load_checkpoint(self) -> bool:
        """Continue from OUT/checkpoint.pt if it is this run's; False (and nothing loaded) otherwise."""
        path = self.run_dir.checkpoint
        if not path.exists():
            return False
        try:
            state = read_checkpoint(path, map_location=self.variant.device)
        except UnreadableCheckpoint as exc:
            raise GanlabError(f"{exc}; delete it to start over") from None
        if state.variant != self.variant.name:
            raise GanlabError(f"{path} holds a {state.variant!r} checkpoint, not {self.variant.name!r}")
        if state.fingerprint != self.fingerprint:
            log.warning("%s: %s was written with other settings (fingerprint %s, now %s); starting over",
                        self.variant.name, path, state.fingerprint, self.fingerprint)
            return False
        if state.step > self.config.steps:
            log.warning("%s: %s is at step %d, past steps = %d; starting over",
                        self.variant.name, path, state.step, self.config.steps)
            return False
        self.variant.load_state_dict(state.model)
        rng = state.rng[self.rank] if self.rank < len(state.rng) else state.rng[0]
        torch.set_rng_state(rng["cpu"].cpu())
        if rng["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in rng["cuda"]])
        self.step = state.step
        log.info("%s: resumed from %s at step %d", self.variant.name, path, self.step)
        return True

    def export_generator(self) -> Path | None:
        """OUT/generator.pt: what sampling needs and nothing else (no discriminator, no optimizer)."""
        if not self.writer:
            return None
        return export_generator(self.variant, self.run_dir.generator, self.step,
                                channels_last=self.memory_format == torch.channels_last)

    # ------------------------------------------------------------------ the loop

    def fit(self, resume: bool = False, progress: bool = True) -> dict[str, Any]:
        c = self.config
        self.out.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(c.seed * 1009 + self.rank)  # each process draws its own noise
        distributed.broadcast_module(self.variant.nets)
        resumed = resume and self.load_checkpoint()
        if not resumed and self.writer:  # a fresh run: nothing of an earlier one may survive
            for stale in (self.run_dir.samples, self.run_dir.dvclive):
                shutil.rmtree(stale, ignore_errors=True)
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        last: dict[str, float] = {}
        earlier = self._earlier_summary() if resumed else {}
        history = [r for r in earlier.get("history", []) if isinstance(r, dict) and r.get("step", 1 << 62) <= self.step]
        seconds_before = float(earlier.get("seconds", 0.0)) if history else 0.0
        if history:  # a run resumed at its end still reports its last losses
            last = {k: v for k, v in history[-1].items() if k not in ("step", "images_per_s")}
        self.evals = [r for r in earlier.get("evals", []) if isinstance(r, dict) and r.get("step", 1 << 62) <= self.step]
        start, start_step = time.perf_counter(), self.step
        live = None
        if c.dvclive and self.writer:
            from dvclive import Live

            live = Live(dir=str(self.run_dir.dvclive), resume=resumed, report=None, save_dvc_exp=False,
                        dvcyaml=False)
        try:
            if self.monitor is not None and not self.evals:  # the untrained generator's score
                self.run_monitor(live)
            bar = tqdm(total=c.steps, initial=self.step, desc=self.variant.name, unit="step",
                       disable=not progress or not self.writer)
            while self.step < c.steps:
                per_step = self.variant.real_batches_per_step(self.step)
                first = self.variant.batches_before(self.step)
                parts = [self.batch(first + j) for j in range(per_step)]
                x = torch.cat([p[0] for p in parts])
                y = torch.cat([p[1] for p in parts]) if self.labels is not None else None
                self.variant.nets.train()
                with self.autocast():
                    losses = self.variant.step(x, y, self.step)
                bad = {name: v for name, v in losses.items() if not math.isfinite(v)}
                stop, diverged = distributed.any_rank([self._stop_signal is not None, bool(bad)])
                if diverged:
                    name, v = next(iter(bad.items())) if bad else ("(on another process)", float("nan"))
                    raise TrainingDiverged(
                        f"{self.variant.name}: loss {name} = {v} at step {self.step}; stopped, and the last good "
                        f"checkpoint ({self.run_dir.checkpoint}, if any) was left as it was"
                    )
                self.step += 1
                last = losses
                bar.update(1)
                if self.step % c.log_every == 0 or self.step == c.steps:
                    seen = (self.variant.batches_before(self.step) - self.variant.batches_before(start_step)) * c.batch_size
                    rate = seen / max(time.perf_counter() - start, 1e-9)  # real images consumed per second
                    history.append({"step": self.step, **losses, "images_per_s": rate})
                    if live is not None:
                        live.step = self.step
                        for name, v in {**losses, "images_per_s": rate}.items():
                            live.log_metric(f"train/{name}", v)
                        live.next_step()
                    bar.set_postfix({name: f"{v:.3f}" for name, v in losses.items()})
                if self.step % c.sample_every == 0 or self.step == c.steps:
                    self.save_grids()
                if self.monitor is not None and self.variant.eval_due(self.step, c.eval_every):
                    self.run_monitor(live)
                if self.step % c.checkpoint_every == 0 or self.step == c.steps or stop:
                    self.save_checkpoint()
                if stop:
                    log.warning("%s: stop signal at step %d; checkpoint written, stopping", self.variant.name, self.step)
                    break
            bar.close()
            if self.step >= c.steps and self.monitor is not None:
                self.run_monitor(live)
            if self.step >= c.steps and self.test is not None and self.writer:
                if start_step >= c.steps and "test" in earlier:  # resumed at its end: the same weights, scored before
                    self.test_results, self.test_protocol = earlier["test"], earlier.get("test_protocol", {})
                    tests = {}
                else:
                    tests = self.evaluate()
                if tests and live is not None:
                    for name, v in tests.items():
                        live.log_metric(f"test/{name}", v, plot=False)
        finally:
            for s, h in previous.items():
                signal.signal(s, h)
            if live is not None:
                live.end()
        finished = self.step >= c.steps
        seconds = round(seconds_before + time.perf_counter() - start, 1)
        summary = {"variant": self.variant.name, "step": self.step, "finished": finished, "seconds": seconds, **last}
        summary["phases"] = self.variant.planned_phases(c.steps)  # what the reports say each phase trained
        if self.test_results:
            summary["test"] = self.test_results
            summary["test_protocol"] = self.test_protocol
        if self.evals:
            summary["eval"] = {k: v for k, v in self.evals[-1].items() if k != "step"}
            summary["eval_step"] = self.evals[-1]["step"]
            summary["eval_protocol"] = self.monitor.protocol() if self.monitor is not None else \
                earlier.get("eval_protocol", {})
        if self.writer:
            if finished:
                self.export_generator()
            write_json_atomic(self.run_dir.summary, {**summary, "history": history, "evals": self.evals})
        return summary

    @torch.no_grad()
    def run_monitor(self, live: Any) -> dict[str, float]:
        """The monitor's scores at the current step: kept in ``self.evals`` and logged as ``eval/<name>``."""
        if not self.writer:
            return {}
        if self.evals and self.evals[-1]["step"] == self.step:  # scored already (a run resumed at its end)
            return self.evals[-1]
        self.variant.nets.eval()
        try:
            with self.autocast():
                values = {k: float(v) for k, v in self.monitor(self.variant).items()}
        finally:
            self.variant.nets.train()
        self.evals.append({"step": self.step, **values})
        if live is not None:
            live.step = self.step
            for name, v in values.items():
                live.log_metric(f"eval/{name}", v)
            live.next_step()
        log.info("%s: step %d: %s", self.variant.name, self.step, ", ".join(f"{k} {v:.4f}" for k, v in values.items()))
        return values

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """The variant's scores on the test split (``Variant.evaluate``), in eval mode."""
        x, y = self.test
        x, y = self.layout(x.to(self.variant.device)), (y.to(self.variant.device) if y is not None else None)
        self.variant.nets.eval()
        try:
            with self.autocast():
                self.test_results = {k: float(v) for k, v in self.variant.evaluate(x, y).items()}
                self.test_protocol = self.variant.protocol()
                figures = self.variant.test_figures(x, y)
        finally:
            self.variant.nets.train()
        for name, fig in figures.items():
            save_figure(fig, self.run_dir.samples / f"{name}.png")
        if self.test_results:
            log.info("%s: on the test split: %s", self.variant.name,
                     ", ".join(f"{k} {v:.4f}" for k, v in self.test_results.items()))
        return self.test_results

    def _earlier_summary(self) -> dict[str, Any]:
        """OUT/train_summary.json of the run being resumed ({} when missing or unreadable)."""
        try:
            summary = json.loads(self.run_dir.summary.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        return summary if isinstance(summary, dict) and isinstance(summary.get("history", []), list) else {}

    def _on_signal(self, signum: int, frame: Any) -> None:  # noqa: ARG002 - signal's signature
        self._stop_signal = signum

    @torch.no_grad()
    def save_grids(self) -> list[Path]:
        """The fixed-noise sample grid (samples/step_N.png) and the variant's own figures
        (samples/<name>_step_N.png), written by rank 0."""
        if not self.writer:
            return []
        if not self.variant.makes_images:
            return self.save_text()
        self.variant.nets.eval()
        try:
            with self.autocast():
                images = self.variant.sample(self.fixed_noise, self.fixed_labels).float().cpu()
                grids = {"step": (images, int(math.sqrt(len(images))))}
                for name, (imgs, nrow) in self.variant.figures(self.fixed_real, self.fixed_real_labels).items():
                    grids[f"{name}_step"] = (imgs.float().cpu(), nrow)
        finally:
            self.variant.nets.train()
        paths = []
        for name, (imgs, nrow) in grids.items():
            paths.append(save_grid(imgs, self.run_dir.samples / f"{name}_{self.step:07d}.png", nrow))
        return paths


    @torch.no_grad()
    def save_text(self) -> list[Path]:
        """The fixed-noise samples as text (samples/step_N.txt), for variants whose samples are sentences."""
        self.variant.nets.eval()
        try:
            lines = self.variant.text(self.variant.sample(self.fixed_noise, self.fixed_labels).cpu())
        finally:
            self.variant.nets.train()
        if lines is None:
            return []
        path = self.run_dir.samples / f"step_{self.step:07d}.txt"
        with atomic_write(path) as fh:
            fh.write("".join(line + "\n" for line in lines).encode())
        return [path]
