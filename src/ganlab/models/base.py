"""What every model variant provides to the one trainer: build, step, sample.

A variant owns its networks (``self.nets``, a ModuleDict) and optimizers (``self.optimizers``).
Its :meth:`Variant.step` takes one real batch and performs the whole update the paper
prescribes (critic iterations, penalties, auxiliary losses...), returning its losses as
floats. The trainer never looks inside: seeding, devices, progress, logging, checkpoints and
resume are the trainer's, once, for every variant.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.distributed as dist
from torch import nn

from ganlab.errors import GanlabError

# The one field helper of every params dataclass; a variant's Config declares its hyperparameters with it
# (``from ganlab.models.base import hp``), and ``models.<run>.model`` is validated against them.
from ganlab.schema import hp  # noqa: F401 - re-exported for the variant modules


@dataclass(frozen=True)
class DataSpec:
    """What a variant needs to know about its data."""

    shape: tuple[int, ...]  # (C, H, W) of one image; (length,) of one token sequence
    n_classes: int  # 0 when unlabelled
    vocab: int = 0  # token sequences: the number of distinct tokens; 0 for images
    words: tuple[str, ...] = ()  # token sequences of text: the word of each token id (exported with the generator)
    end_token: int = -1  # text: the code that ends a sentence and pads it to the length; -1 = none


@dataclass(frozen=True)
class Phase:
    """A stretch of a run's steps that all do one kind of update (SeqGAN's MLE pre-training, say)."""

    name: str
    steps: int | None  # None: the rest of train.steps (the last phase only)
    #: what each of its steps does, in counts the reports show: "g_updates" (policy-gradient generator
    #: updates), "d_minibatches" (discriminator minibatches), "rollouts" (completions of each prefix)
    per_step: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Pretraining:
    """What a variant's leading MLE phase (``phases()[0]``, named "mle") trains: the state a pre-training
    snapshot holds, and what another run may start from (``pretrained_from``; ganlab.train.pretraining)."""

    network: str  # the role of the network it trains
    optimizer: str  # the optimizer that steps it
    #: the config fields that shape it: a run starts from another's pre-training only with the same values
    fields: tuple[str, ...]


def phase_steps_error(phases: list[Phase], steps: int) -> str:
    """Why a run of ``steps`` steps does not fit ``phases`` ('' when it does): the fixed phases must all
    fit, and fill the steps exactly when no phase takes the rest."""
    fixed = [p for p in phases if p.steps is not None]
    total = sum(p.steps for p in fixed)
    takes_rest = [p.name for p in phases if p.steps is None]
    if total <= steps and (takes_rest or total == steps):
        return ""
    parts = " + ".join(f"{p.name} {p.steps}" for p in fixed)
    if takes_rest:
        return (f"trains {parts} = {total} steps before its {takes_rest[0]} phase; train.steps must be at "
                f"least {total}")
    return f"trains {parts} = {total} steps; train.steps must be {total}"


_WITHOUT_OPTIMIZERS: ContextVar[bool] = ContextVar("without_optimizers", default=False)


@contextmanager
def without_optimizers() -> Iterator[None]:
    """Variants built inside make no optimizers: one loaded to sample from (ganlab.runs.load_generator) or to
    read a network's features (ganlab.eval.transfer) needs none, and torch.optim's first optimizer imports
    torch._dynamo, 1.2 s of each metrics stage's start-up. Nothing is drawn from the RNG either way."""
    token = _WITHOUT_OPTIMIZERS.set(True)
    try:
        yield
    finally:
        _WITHOUT_OPTIMIZERS.reset(token)


class Variant(abc.ABC):
    """Base class of every model variant. Subclasses set ``Config`` and a docstring."""

    name: ClassVar[str] = ""
    Config: ClassVar[type]  # a frozen dataclass of the variant's hyperparameters
    #: what it trains on: "images" (N, C, H, W) in [-1, 1], or "sequences" (N, L) of token ids
    data_kind: ClassVar[str] = "images"
    #: True when it scores or draws from the test split after training (it overrides ``evaluate`` or
    #: ``test_figures``): the trainer is then handed that split
    reads_test_split: ClassVar[bool] = False
    #: False when its noise is no latent space that a walk between two codes means anything in; the
    #: report then says why instead of drawing interpolations
    has_latent_walk: ClassVar[bool] = True
    no_latent_walk_reason: ClassVar[str] = ""  # that reason, set exactly when has_latent_walk is False
    #: what its leading MLE phase trains, when its phases begin with one (the sequence variants); None: no
    #: pre-training another run could share
    pretraining: ClassVar[Pretraining | None] = None

    @classmethod
    def phases(cls, config: Any, data: DataSpec | None = None) -> list[Phase]:
        """The phases of a run with hyperparameters ``config`` on ``data``, in order: one phase by
        default, the whole of train.steps. ``data`` is None when the params are checked, before the data
        are read: a variant whose phases depend on the data then returns what the config alone fixes."""
        return [Phase("train", None)]

    def planned_phases(self, steps: int) -> list[dict[str, Any]]:
        """This run's phases over ``steps`` steps, each with the steps it gets (a fixed phase is cut
        short where the steps run out): what train_summary.json records as ``phases``."""
        left, plan = steps, []
        for phase in type(self).phases(self.config, self.data):
            n = left if phase.steps is None else min(phase.steps, left)
            left -= n
            entry = {"name": phase.name, "steps": n}
            plan.append({**entry, "per_step": dict(phase.per_step)} if phase.per_step else entry)
        return plan

    def real_batches_per_step(self, step: int) -> int:
        """Real batches step number ``step`` consumes (WGAN's critic iterations each take a fresh one)."""
        return 1

    def batches_before(self, step: int) -> int:
        """Real batches consumed by steps 0 .. step-1: where step ``step`` starts in the data stream.

        Must equal the sum of ``real_batches_per_step`` over those steps; a variant whose count
        varies overrides both (the trainer then resumes at the exact batch an uninterrupted run would).
        """
        return step * self.real_batches_per_step(step)

    def __init__(self, config: Any, data: DataSpec, device: torch.device) -> None:
        self.config, self.data, self.device = config, data, device
        self.nets = nn.ModuleDict(self.build()).to(device)
        self.optimizers: dict[str, torch.optim.Optimizer] = {} if _WITHOUT_OPTIMIZERS.get() else self.make_optimizers()

    #: the roles whose weights make up the exported generator (``generator.pt``)
    generator_roles: ClassVar[tuple[str, ...]] = ("generator",)

    @property
    def makes_images(self) -> bool:
        """False for data that are not pictures (the toys, sentences): the trainer then draws no grids."""
        return True

    def update(self, role: str, loss: torch.Tensor, max_grad_norm: float = 0.0) -> None:
        """Backpropagate ``loss`` and step the optimizer of ``role`` (its gradients first clipped to a
        global norm of ``max_grad_norm`` when that is > 0).

        Every variant updates through here, which is what makes them data-parallel under
        torchrun: each process holds a shard of the batch, and the gradients of ``role`` are
        averaged over the processes before the step, so all replicas stay identical. (This is
        what DistributedDataParallel does with its hooks; it is done explicitly because a GAN
        step runs the discriminator forward several times per backward and backpropagates the
        generator loss through it, which DDP's reducer does not support.)

        Only the gradients of ``role``'s parameters are computed: the generator's loss runs through the
        discriminator, and a plain ``loss.backward()`` would also compute the discriminator's weight
        gradients there (one more pass over its layers, thrown away by its next ``zero_grad``), and the
        gradient penalty's loss the gradient of its interpolates. ``role``'s gradients are the same
        either way, bit for bit (tests/models/test_base.py).
        """
        if role not in self.optimizers:
            raise GanlabError(f"{self.name}: no optimizer for {role!r}; a variant built without optimizers "
                              "(to sample from, or for its features) does not train")
        optimizer = self.optimizers[role]
        params = [p for group in optimizer.param_groups for p in group["params"] if p.requires_grad]
        optimizer.zero_grad(set_to_none=True)
        loss.backward(inputs=params or None)
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            grads = [p.grad for p in params if p.grad is not None]
            if grads:
                flat = torch.cat([g.flatten() for g in grads])
                dist.all_reduce(flat)
                flat /= dist.get_world_size()
                offset = 0
                for g in grads:
                    g.copy_(flat[offset : offset + g.numel()].view_as(g))
                    offset += g.numel()
        if max_grad_norm > 0:
            nn.utils.clip_grad_norm_(params, max_grad_norm)
        optimizer.step()

    def eval_due(self, step: int, every: int) -> bool:
        """Whether the trainer's monitor scores the generator after step ``step`` (every ``every``
        steps; 0 = never): a variant whose steps differ in kind (SeqGAN's phases) chooses its own points."""
        return every > 0 and step % every == 0

    def grid_inputs(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The fixed codes (and labels) of the sample grids; conditional variants cycle the classes."""
        z = self.noise(n, generator=generator)
        if self.data.n_classes and self.conditional:
            return z, (torch.arange(n) % self.data.n_classes).to(self.device)
        return z, None

    #: True when the generator takes a class label
    conditional: ClassVar[bool] = False

    def random_labels(self, n: int) -> torch.Tensor:
        """Uniform class labels, for conditional samples drawn without asking for a class."""
        return torch.randint(0, self.data.n_classes, (n,), device=self.device)

    #: True when training needs the class labels although the generator takes none (SGAN)
    labelled: ClassVar[bool] = False

    def prepare(self, images: torch.Tensor, labels: torch.Tensor | None, seed: int) -> None:
        """Called once by the trainer, before any step, with the whole training set. Whatever a
        variant keeps from it must be a function of (data, seed) alone, so that resume rebuilds
        it (SGAN's labelled subset)."""

    def figures(self, real: torch.Tensor, labels: torch.Tensor | None) -> dict[str, tuple[torch.Tensor, int]]:
        """Extra image grids drawn beside the samples: name -> (images, nrow). ``real`` is a fixed
        batch of training images (the same at every sample step), for reconstructions and
        translations; InfoGAN draws its code traversals."""
        return {}

    def evaluate(self, images: torch.Tensor, labels: torch.Tensor | None) -> dict[str, float]:
        """Scores on the test split after training (SGAN's classifier accuracy); logged as
        ``test/<name>`` metrics. Empty for variants without one."""
        return {}

    def protocol(self) -> dict[str, Any]:
        """How ``evaluate`` measured its scores (split, number of images, importance samples,
        seeds): written beside them in train_summary.json, so no number travels without it."""
        return {}

    def text(self, samples: torch.Tensor) -> list[str] | None:
        """Samples as lines of text (sequence variants); None for images. The trainer writes them as
        ``samples/step_N.txt`` where image variants get grids."""
        return None

    def points(self, samples: torch.Tensor) -> torch.Tensor | None:
        """Samples as (N, d) points (a generator of the 2-D toys); None otherwise. The trainer writes them
        as ``samples/step_N.npy`` where image variants get grids, for the figure drawn after training."""
        return None

    def test_figures(self, images: torch.Tensor, labels: torch.Tensor | None) -> dict[str, Any]:
        """Figures drawn once after training from the test split (the AAE's latent scatter):
        name -> a ``matplotlib.figure.Figure`` (made without pyplot, so nothing is left open),
        saved as ``samples/<name>.png``."""
        return {}

    @abc.abstractmethod
    def build(self) -> dict[str, nn.Module]:
        """The networks, by role ('generator', 'discriminator', ...)."""

    @abc.abstractmethod
    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """One optimizer per trained role, with the paper's settings."""

    @abc.abstractmethod
    def step(self, x: torch.Tensor, y: torch.Tensor | None, step: int) -> dict[str, float]:
        """One training iteration on real images x in [-1, 1] (labels y); returns losses.

        x holds ``real_batches_per_step(step)`` batches one after the other.
        """

    @abc.abstractmethod
    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Latent codes for n samples (on the variant's device)."""

    @abc.abstractmethod
    def sample(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [-1, 1], shape (n, C, H, W), from codes z (and labels y)."""

    def state_dict(self) -> dict[str, Any]:
        return {
            "nets": self.nets.state_dict(),
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.nets.load_state_dict(state["nets"])
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
