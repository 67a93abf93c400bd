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
- sample grids from a fixed noise batch, so grids are comparable over time (sentences and points, for
  variants that draw no images);
- every loss and images/s logged with dvclive (OUT/dvclive), for ``dvc plots``;
- bfloat16 autocast on CUDA (``amp``), and data parallelism under ``torchrun``
  (see :mod:`ganlab.train.distributed`);
- the final generator exported on its own (OUT/generator.pt) for evaluation and reports;
- a sequence run's MLE pre-training kept at ``snapshot_steps`` (OUT/snapshots/step_N.pt), and a run
  started from another run's snapshot instead of pre-training itself (``pretrained``; see
  :mod:`ganlab.train.pretraining`).

The files' names and formats are :mod:`ganlab.runs`'s, the device and precision choice
:mod:`ganlab.device`'s, the picture writing :mod:`ganlab.images`'s; this module is the loop.

A checkpoint carries a fingerprint of everything that shapes the weights (variant, its
config, the data, seed, batch size, precision, the snapshot it started from); ``fit`` continues
only from a checkpoint with the same fingerprint and at most ``steps`` steps (and the snapshots of
``snapshot_steps`` it passed). A run it cannot continue (other settings, more steps done than
asked, a damaged checkpoint) is kept and the new one refused, unless ``restart`` says otherwise:
``"stale"`` replaces it (the pipeline's stage: DVC's cache keeps the replaced outputs),
``"yes"`` starts over in any case. Nothing is written into a folder that holds files a run does not
write, and one process at a time trains in a folder (``OUT/.lock``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import reprlib
import shutil
import signal
import time
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import torch
from tqdm.auto import tqdm

from ganlab import codedeps
from ganlab.device import autocast_dtype
from ganlab.errors import GanlabError
from ganlab.files import OutputRefused, atomic_write, folder_lock, write_json_atomic
from ganlab.images import save_figure, save_grid
from ganlab.models.base import Variant
from ganlab.runs import Checkpoint, RunDir, UnreadableCheckpoint, export_generator, read_checkpoint, write_checkpoint
from ganlab.train.config import TrainParams
from ganlab.train import distributed, pretraining
from ganlab.train.pretraining import Pretrained

log = logging.getLogger(__name__)


class TrainingDiverged(GanlabError):
    """A loss became NaN or infinite."""


class RunConflict(GanlabError):
    """OUT holds a run this one cannot continue (other settings, more steps done), or files a run does not write."""


class RunStopped(GanlabError):
    """A stop signal (SIGTERM, SIGINT) ended the run before its last step; its checkpoint was written.
    The exit code is the shell's for that signal (143, 130), so ``dvc repro`` reports the stage as failed."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum


#: what ``fit`` does with a run in OUT it cannot continue: refuse ("no"), replace it ("stale"), or start
#: over even from a run it could continue ("yes")
Restart = Literal["no", "stale", "yes"]


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
                 test: tuple[torch.Tensor, torch.Tensor | None] | None = None, monitor: Monitor | None = None,
                 pretrained: Pretrained | None = None) -> None:
        self.variant, self.config, self.out = variant, config, Path(out)
        self.pretrained = pretrained  # the snapshot a fresh run starts from, read (and checked) by _fingerprint
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
        self.settings = json.loads(json.dumps(what, sort_keys=True, default=str))  # written in train_summary.json
        self.start: tuple[Any, str] | None = None  # the snapshot of ``pretrained`` and its SHA-256
        if self.pretrained is not None:  # checked against the settings before they name it
            self.start = pretraining.open_snapshot(self.pretrained, self.variant, self.settings)
            what["pretrained"] = {"step": self.start[0].step, "sha256": self.start[1]}
            self.settings = json.loads(json.dumps(what, sort_keys=True, default=str))
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

    def save_snapshot(self) -> Path | None:
        """OUT/snapshots/step_N.pt: the pre-training now, for the runs that start from it (ganlab.train.pretraining)."""
        rng = distributed.gather_objects(
            {"cpu": torch.get_rng_state(),
             "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []})
        if not self.writer:
            return None
        protocol = self.monitor.protocol() if self.monitor is not None else {}
        return pretraining.keep(self.run_dir, pretraining.make_snapshot(
            self.variant, self.step, self.settings, self.evals, protocol, rng))

    def start_from_snapshot(self) -> None:
        """A fresh run takes its pre-training from the snapshot (checked when the trainer was made): the network,
        its optimizer, the RNG state, the step and the scores so far."""
        snap = self.start[0]
        pretraining.load(snap, self.variant, self.rank)
        self.step = snap.step
        self.evals = [dict(e) for e in snap.evals]
        log.info("%s: starts at step %d from %s (%s's pre-training)", self.variant.name, self.step,
                 self.pretrained.path, self.pretrained.run)

    def load_checkpoint(self, restart: Restart = "no") -> bool:
        """Continue from OUT/checkpoint.pt if it is this run's (True); False when there is no run to continue.

        A run in OUT this one cannot continue (another variant or settings, more steps than ``steps``, an
        unreadable checkpoint, a summary or generator without a checkpoint) raises RunConflict naming why
        and is kept, unless ``restart`` is "stale" or "yes"; with "yes" even a run it could continue is
        replaced. Replacing removes the old run's files (its checkpoint is overwritten by the first new one)."""
        path, why = self.run_dir.checkpoint, None
        if path.exists():
            try:
                state = read_checkpoint(path, map_location=self.variant.device)
            except UnreadableCheckpoint as exc:
                why, state = str(exc), None
            if state is not None:
                why = self._cannot_continue(state)
                if why is None and restart != "yes":
                    self._load(state)
                    return True
        else:
            left = [p.name for p in (self.run_dir.summary, self.run_dir.generator) if p.exists()]
            if left:
                why = f"{self.out} holds a run's {' and '.join(left)} but no checkpoint to continue from"
        if why is not None and restart == "no":
            raise RunConflict(f"{why}; the run was kept: pass --restart to replace it, or train into another --out")
        if why is not None or path.exists():
            log.warning("%s: %s; starting over (restart: %s)", self.variant.name, why or f"{path} is replaced", restart)
        if self.writer:  # a fresh run: nothing of an earlier one may survive
            for stale in (self.run_dir.samples, self.run_dir.dvclive, self.run_dir.snapshots):
                shutil.rmtree(stale, ignore_errors=True)
            for stale in (self.run_dir.generator, self.run_dir.summary):
                stale.unlink(missing_ok=True)
        return False

    def _cannot_continue(self, state: Checkpoint) -> str | None:
        """Why this run cannot continue checkpoint ``state``, or None when it can."""
        path = self.run_dir.checkpoint
        if state.variant != self.variant.name:
            return f"{path} holds a {state.variant!r} run, not {self.variant.name!r}"
        if state.fingerprint != self.fingerprint:
            earlier = self._earlier_summary().get("settings")
            what = _differences(earlier, self.settings) if isinstance(earlier, dict) else ""
            what = what or f"fingerprint {state.fingerprint}, now {self.fingerprint}"  # a summary without settings
            return f"{path} was written with other settings ({what})"
        if state.step > self.config.steps:
            return f"{path} is at step {state.step}, past steps = {self.config.steps}"
        for step in self.config.snapshot_steps:  # a snapshot it passed without keeping needs those steps again
            if step <= state.step and not pretraining.kept(self.run_dir, step, self.settings):
                return (f"{path} is at step {state.step}, past snapshot step {step}, but "
                        f"{self.run_dir.snapshot(step)} is missing or not this run's")
        return None

    def _load(self, state: Checkpoint) -> None:
        path = self.run_dir.checkpoint
        self.variant.load_state_dict(state.model)
        rng = state.rng[self.rank] if self.rank < len(state.rng) else state.rng[0]
        torch.set_rng_state(rng["cpu"].cpu())
        if rng["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in rng["cuda"]])
        self.step = state.step
        log.info("%s: resumed from %s at step %d", self.variant.name, path, self.step)

    def export_generator(self, path: Path | None = None) -> Path | None:
        """OUT/generator.pt (or ``path``): what sampling needs and nothing else (no discriminator, no optimizer)."""
        if not self.writer:
            return None
        return export_generator(self.variant, path or self.run_dir.generator, self.step,
                                channels_last=self.memory_format == torch.channels_last)

    # ------------------------------------------------------------------ the loop

    def fit(self, progress: bool = True, restart: Restart = "no") -> dict[str, Any]:
        """Train to ``steps``, continuing the run in OUT when it is this one (see :meth:`load_checkpoint` for
        ``restart``); return train_summary.json's fields without the history. OUT must be missing, empty or
        a run's folder (RunConflict names what else it holds), and is locked while this process trains."""
        foreign = self.run_dir.foreign()
        if foreign:
            shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            raise RunConflict(f"{self.out}: holds files a run does not write ({shown}); train into an empty or "
                              "new folder (--out)")
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputRefused(f"{self.out}: cannot create the run's folder ({exc.strerror})") from None
        lock = folder_lock(self.run_dir.lock, f"training {self.variant.name}") if self.writer else contextlib.nullcontext()
        with lock:
            return self._fit(progress, restart)

    def _fit(self, progress: bool, restart: Restart) -> dict[str, Any]:
        c = self.config
        torch.manual_seed(c.seed * 1009 + self.rank)  # each process draws its own noise
        distributed.broadcast_module(self.variant.nets)
        resumed = self.load_checkpoint(restart)
        earlier = self._earlier_summary() if resumed else {}
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        last: dict[str, float] = {}
        history = [r for r in earlier.get("history", []) if isinstance(r, dict) and r.get("step", 1 << 62) <= self.step]
        seconds_before = float(earlier.get("seconds", 0.0)) if history else 0.0
        if history:  # a run resumed at its end still reports its last losses
            last = {k: v for k, v in history[-1].items() if k not in ("step", "images_per_s")}
        self.evals = [r for r in earlier.get("evals", []) if isinstance(r, dict) and r.get("step", 1 << 62) <= self.step]
        started = not resumed and self.start is not None
        if started:
            self.start_from_snapshot()
        if self.writer:
            pretraining.tidy(self.run_dir, c.snapshot_steps)
        start, start_step = time.perf_counter(), self.step

        def summary(finished: bool) -> dict[str, Any]:
            """train_summary.json's fields without the history; written at every checkpoint and at the end."""
            out = {"variant": self.variant.name, "step": self.step, "finished": finished,
                   "seconds": round(seconds_before + time.perf_counter() - start, 1), **last}
            out["phases"] = self.variant.planned_phases(c.steps)  # what the reports say each phase trained
            if self.test_results:
                out["test"] = self.test_results
                out["test_protocol"] = self.test_protocol
            if self.pretrained is not None:  # the steps before its step were the other run's, shared
                out["pretrained"] = {"run": self.pretrained.run, "step": self.start[0].step,
                                     "snapshot": str(self.pretrained.path), "sha256": self.start[1]}
            if self.evals:
                out["eval"] = {k: v for k, v in self.evals[-1].items() if k != "step"}
                out["eval_step"] = self.evals[-1]["step"]
                out["eval_protocol"] = self.monitor.protocol() if self.monitor is not None else \
                    earlier.get("eval_protocol", {})
            return out

        def write(fields: dict[str, Any]) -> None:
            if self.writer:  # the history so far: a run killed later resumes with it (and its seconds)
                write_json_atomic(self.run_dir.summary,
                                  {**fields, "settings": self.settings, "history": history, "evals": self.evals})

        live = None
        if c.dvclive and self.writer:
            from dvclive import Live

            if resumed:  # a run killed after its checkpoint logged steps it will now do again
                _drop_logged_after(self.run_dir.dvclive, self.step)
            live = Live(dir=str(self.run_dir.dvclive), resume=resumed, report=None, save_dvc_exp=False,
                        dvcyaml=False)
            if started:  # the pre-training's scores, as the run that pre-trains itself logs them
                for row in self.evals:
                    live.step = row["step"]
                    for name, v in row.items():
                        if name != "step":
                            live.log_metric(f"eval/{name}", v)
                    live.next_step()
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
                snapshot = self.step in c.snapshot_steps
                if self.monitor is not None and (self.variant.eval_due(self.step, c.eval_every) or snapshot):
                    self.run_monitor(live)  # a snapshot carries the score at its step: the runs starting from it need it
                if snapshot:
                    self.save_snapshot()
                if self.step % c.checkpoint_every == 0 or self.step == c.steps or stop:
                    self.save_checkpoint()
                    if c.keep_generators and self.writer:
                        self.run_dir.generators.mkdir(exist_ok=True)
                        self.export_generator(self.run_dir.generator_at(self.step))
                    if self.step < c.steps:
                        write(summary(False))
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
                _end_live(live)
        finished = self.step >= c.steps
        fields = summary(finished)
        if self.writer and finished:
            self.export_generator()
        write(fields)
        if self._stop_signal is not None and not finished:
            raise RunStopped(f"{self.variant.name}: stopped by {signal.Signals(self._stop_signal).name} at step "
                             f"{self.step} of {c.steps}; {self.run_dir.checkpoint} holds it: run the same command "
                             "again to continue", self._stop_signal)
        return fields

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
            return self.save_samples()
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
    def save_samples(self) -> list[Path]:
        """The fixed-noise samples of a variant that draws no images: as text (samples/step_N.txt) when they
        are sentences, as numbers (samples/step_N.npy, float32 (N, d)) when they are points; else nothing."""
        self.variant.nets.eval()
        try:
            samples = self.variant.sample(self.fixed_noise, self.fixed_labels).cpu()
            lines = self.variant.text(samples)
            points = self.variant.points(samples.float()) if lines is None else None
        finally:
            self.variant.nets.train()
        if lines is not None:
            path = self.run_dir.samples / f"step_{self.step:07d}.txt"
            with atomic_write(path) as fh:
                fh.write("".join(line + "\n" for line in lines).encode())
            return [path]
        if points is None:
            return []
        path = self.run_dir.samples / f"step_{self.step:07d}.npy"
        with atomic_write(path) as fh:
            np.save(fh, points.numpy().astype(np.float32))
        return [path]


def _end_live(live: Any) -> None:
    """``live.end()``, where another trainer in the same DVC project may remove dvclive's step signal first.

    Inside a DVC project dvclive marks each step in one file of the project, .dvc/tmp/exps/run/
    DVCLIVE_STEP_COMPLETED (for the VS Code extension), and ``end`` removes it after checking that it exists.
    Two trainers in one project (a study's seeds side by side) race between that check and the removal; the one
    that loses finds the file gone. The removal is the last thing ``end`` does, so nothing is left undone.
    """
    try:
        live.end()
    except FileNotFoundError as e:
        if Path(e.filename or "").name != "DVCLIVE_STEP_COMPLETED":
            raise


def _drop_logged_after(folder: Path, step: int) -> None:
    """Remove the rows past ``step`` from dvclive's series (``plots/metrics/**/*.tsv``, a header then
    tab-separated rows whose step column is named ``step``): a resumed run logs those steps again."""
    for tsv in sorted((folder / "plots" / "metrics").rglob("*.tsv")):
        lines = tsv.read_text().splitlines(keepends=True)
        if not lines:
            continue
        header = lines[0].rstrip("\n").split("\t")
        if "step" not in header:
            continue
        col = header.index("step")
        keep = [lines[0]] + [row for row in lines[1:] if _step_of(row, col) <= step]
        if len(keep) != len(lines):
            with atomic_write(tsv, "w") as fh:
                fh.write("".join(keep))


def _step_of(row: str, col: int) -> int:
    try:
        return int(row.rstrip("\n").split("\t")[col])
    except (IndexError, ValueError):
        return -1  # a row dvclive did not write: kept as it is


def _differences(before: dict[str, Any], now: dict[str, Any], limit: int = 4) -> str:
    """'config.lr 0.0002 -> 0.001, train.seed 0 -> 1': the settings that differ, the first ``limit``."""
    def flat(d: Any, where: str = "") -> dict[str, Any]:
        if not isinstance(d, dict):
            return {where: d}
        return {k: v for key, value in d.items() for k, v in flat(value, f"{where}.{key}" if where else str(key)).items()}

    a, b = flat(before), flat(now)
    cut = reprlib.Repr()
    cut.maxstring = cut.maxother = 24
    short = cut.repr
    diffs = [f"{k} {short(a.get(k))} -> {short(b.get(k))}" for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)]
    diffs = [d if not d.startswith("code ") else "the code" for d in diffs]
    return ", ".join(diffs[:limit]) + (f" and {len(diffs) - limit} more" if len(diffs) > limit else "")
