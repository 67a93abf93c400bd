"""One process of the torchrun test (tests/train/test_distributed.py): trains a tiny DCGAN for 3 steps.

Each rank saves its parameters, its initial parameters and the indices of its first batch
shard, so the test can check that the replicas stay identical while seeing different data.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.distributed as dist

from ganlab.models import registry
from ganlab.models.base import DataSpec
from ganlab.train import distributed
from ganlab.train.trainer import TrainConfig, Trainer


def main(out: Path) -> None:
    device = distributed.setup("cpu")
    assert device is not None, "not started by torchrun"
    rank = dist.get_rank()
    torch.manual_seed(100 + rank)  # different initial weights per rank: the trainer must broadcast rank 0's
    cls = registry.get("dcgan")
    v = cls(cls.Config(width=8), DataSpec((1, 28, 28), 0), device)
    g = torch.Generator().manual_seed(0)
    images = torch.rand(32, 1, 28, 28, generator=g) * 2 - 1
    images[:, 0, 0, 0] = torch.arange(32) / 100  # a tag: which image a shard holds
    cfg = TrainConfig(steps=3, batch_size=8, checkpoint_every=2, sample_every=3, log_every=1, n_samples=4)
    t = Trainer(v, images, None, cfg, out / "run")
    shard = t.batch(0)[0][:, 0, 0, 0].mul(100).round().long().tolist()
    distributed.broadcast_module(v.nets)
    initial = {k: p.detach().clone() for k, p in v.nets.named_parameters()}
    t.fit(progress=False)
    params = {k: p.detach().clone() for k, p in v.nets.named_parameters()}
    torch.save({"world": dist.get_world_size(), "backend": dist.get_backend(), "shard": shard,
                "initial": initial, "params": params}, out / f"rank{rank}.pt")
    distributed.teardown()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
