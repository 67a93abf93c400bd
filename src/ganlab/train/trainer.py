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
- every loss and images/s logged with dvclive (OUT/dvclive), for ``dvc plots``.
"""

from __future__ import annotations

import io
import logging
import math
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torchvision.utils import save_image
from tqdm.auto import tqdm

from ganlab.errors import GanlabError
from ganlab.files import atomic_write, write_json_atomic
from ganlab.models.base import Variant

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"


class TrainingDiverged(GanlabError):
    """A loss became NaN or infinite."""


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 1000  # optimisation steps
    batch_size: int = 64
    seed: int = 0
    device: str = "auto"  # auto = cuda, then mps, then cpu
    checkpoint_every: int = 500
    sample_every: int = 500
    log_every: int = 50
    n_samples: int = 64  # images in each grid, from one fixed noise batch
    dvclive: bool = True  # log losses and images/s with dvclive into OUT/dvclive (for dvc plots)


def pick_device(name: str = "auto") -> torch.device:
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, C) -> float32 (N, C, H, W) in [-1, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0).contiguous()


class Trainer:
    def __init__(self, variant: Variant, images: torch.Tensor, labels: torch.Tensor | None,
                 config: TrainConfig, out: str | Path) -> None:
        self.variant, self.config, self.out = variant, config, Path(out)
        self.images, self.labels = images, labels
        self.step = 0
        self._stop_signal: int | None = None
        g = torch.Generator().manual_seed(config.seed + 1)  # the grid's noise: fixed for the run
        self.fixed_noise = variant.noise(config.n_samples, generator=g)

    # ------------------------------------------------------------------ batches

    def batch(self, index: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The index-th batch of the data stream: a function of (seed, index) alone, so resume sees the same data."""
        n, bs = len(self.images), self.config.batch_size
        per_epoch = max(1, n // bs)
        epoch, k = divmod(index, per_epoch)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(self.config.seed * 100_003 + epoch))
        idx = order[k * bs : (k + 1) * bs]
        x = self.images[idx].to(self.variant.device, non_blocking=True)
        y = self.labels[idx].to(self.variant.device) if self.labels is not None else None
        return x, y

    # ------------------------------------------------------------------ checkpoints

    def save_checkpoint(self) -> Path:
        state = {
            "step": self.step,
            "variant": self.variant.name,
            "model": self.variant.state_dict(),
            "rng_cpu": torch.get_rng_state(),
            "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        }
        buf = io.BytesIO()
        torch.save(state, buf)
        path = self.out / CHECKPOINT
        with atomic_write(path) as fh:
            fh.write(buf.getvalue())
        return path

    def load_checkpoint(self) -> bool:
        path = self.out / CHECKPOINT
        if not path.exists():
            return False
        state = torch.load(path, map_location=self.variant.device, weights_only=True)
        if state["variant"] != self.variant.name:
            raise GanlabError(f"{path} holds a {state['variant']!r} checkpoint, not {self.variant.name!r}")
        self.variant.load_state_dict(state["model"])
        torch.set_rng_state(state["rng_cpu"].cpu())
        if state["rng_cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in state["rng_cuda"]])
        self.step = int(state["step"])
        log.info("%s: resumed from %s at step %d", self.variant.name, path, self.step)
        return True

    # ------------------------------------------------------------------ the loop

    def fit(self, resume: bool = False, progress: bool = True) -> dict[str, Any]:
        c = self.config
        self.out.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(c.seed)
        if resume:
            self.load_checkpoint()
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        last: dict[str, float] = {}
        history: list[dict[str, float]] = []
        start, start_step = time.perf_counter(), self.step
        live = None
        if c.dvclive:
            from dvclive import Live

            live = Live(dir=str(self.out / "dvclive"), resume=resume, report=None, save_dvc_exp=False, dvcyaml=False)
        try:
            bar = tqdm(total=c.steps, initial=self.step, desc=self.variant.name, unit="step", disable=not progress)
            while self.step < c.steps:
                k = self.variant.real_batches_per_step()
                parts = [self.batch(self.step * k + j) for j in range(k)]
                x = torch.cat([p[0] for p in parts])
                y = torch.cat([p[1] for p in parts]) if self.labels is not None else None
                self.variant.nets.train()
                losses = self.variant.step(x, y, self.step)
                bad = {k: v for k, v in losses.items() if not math.isfinite(v)}
                if bad:
                    k, v = next(iter(bad.items()))
                    raise TrainingDiverged(
                        f"{self.variant.name}: loss {k} = {v} at step {self.step}; stopped, and the last good "
                        f"checkpoint ({self.out / CHECKPOINT}, if any) was left as it was"
                    )
                self.step += 1
                last = losses
                bar.update(1)
                if self.step % c.log_every == 0 or self.step == c.steps:
                    rate = (self.step - start_step) * c.batch_size / max(time.perf_counter() - start, 1e-9)
                    history.append({"step": self.step, **losses, "images_per_s": rate})
                    if live is not None:
                        live.step = self.step
                        for k, v in {**losses, "images_per_s": rate}.items():
                            live.log_metric(f"train/{k}", v)
                        live.next_step()
                    bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()})
                if self.step % c.sample_every == 0 or self.step == c.steps:
                    self.save_grid()
                if self.step % c.checkpoint_every == 0 or self.step == c.steps:
                    self.save_checkpoint()
                if self._stop_signal is not None:
                    self.save_checkpoint()
                    log.warning("%s: signal %d at step %d; checkpoint written, stopping",
                                self.variant.name, self._stop_signal, self.step)
                    break
            bar.close()
        finally:
            for s, h in previous.items():
                signal.signal(s, h)
            if live is not None:
                live.end()
        summary = {"variant": self.variant.name, "step": self.step, "finished": self.step >= c.steps, **last}
        write_json_atomic(self.out / "train_summary.json", {**summary, "history": history})
        return summary

    def _on_signal(self, signum: int, frame: Any) -> None:  # noqa: ARG002 - signal's signature
        self._stop_signal = signum

    @torch.no_grad()
    def save_grid(self) -> Path:
        self.variant.nets.eval()
        images = self.variant.sample(self.fixed_noise).float().cpu()
        self.variant.nets.train()
        path = self.out / "samples" / f"step_{self.step:07d}.png"
        buf = io.BytesIO()
        save_image(images, buf, format="png", nrow=int(math.sqrt(len(images))), normalize=True, value_range=(-1, 1))
        with atomic_write(path) as fh:
            fh.write(buf.getvalue())
        return path
