"""What every model variant provides to the one trainer: build, step, sample.

A variant owns its networks (``self.nets``, a ModuleDict) and optimizers (``self.optimizers``).
Its :meth:`Variant.step` takes one real batch and performs the whole update the paper
prescribes (critic iterations, penalties, auxiliary losses...), returning its losses as
floats. The trainer never looks inside: seeding, devices, progress, logging, checkpoints and
resume are the trainer's, once, for every variant.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn


@dataclass(frozen=True)
class DataSpec:
    """What a variant needs to know about its data."""

    shape: tuple[int, int, int]  # (C, H, W) of one image
    n_classes: int  # 0 when unlabelled


class Variant(abc.ABC):
    """Base class of every model variant. Subclasses set ``Config`` and a docstring."""

    name: ClassVar[str] = ""
    Config: ClassVar[type]  # a frozen dataclass of the variant's hyperparameters

    def real_batches_per_step(self) -> int:
        """Real batches one ``step`` consumes (WGAN's critic iterations each take a fresh one)."""
        return 1

    def __init__(self, config: Any, data: DataSpec, device: torch.device) -> None:
        self.config, self.data, self.device = config, data, device
        self.nets = nn.ModuleDict(self.build()).to(device)
        self.optimizers: dict[str, torch.optim.Optimizer] = self.make_optimizers()

    @abc.abstractmethod
    def build(self) -> dict[str, nn.Module]:
        """The networks, by role ('generator', 'discriminator', ...)."""

    @abc.abstractmethod
    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """One optimizer per trained role, with the paper's settings."""

    @abc.abstractmethod
    def step(self, x: torch.Tensor, y: torch.Tensor | None, step: int) -> dict[str, float]:
        """One training iteration on real images x in [-1, 1] (labels y); returns losses.

        x holds ``real_batches_per_step()`` batches one after the other.
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
