"""Running under ``torchrun``: process group set-up, rank helpers, teardown.

torchrun starts one process per device and sets RANK, LOCAL_RANK and WORLD_SIZE. Each process
builds the same model, the trainer broadcasts rank 0's weights, gives each process its shard of
every batch, and :meth:`ganlab.models.base.Variant.update` averages gradients before every
optimizer step. Only rank 0 writes files. Backend: NCCL on CUDA, gloo on CPU.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta

import torch
import torch.distributed as dist

log = logging.getLogger(__name__)


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def setup(device: str = "auto") -> torch.device | None:
    """Join the process group when started by torchrun (WORLD_SIZE > 1); returns this process's
    device (cuda:LOCAL_RANK on GPU machines), or None when not distributed."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    use_cuda = torch.cuda.is_available() and device in ("auto", "cuda")
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if use_cuda:
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo", timeout=timedelta(minutes=10))
    log.info("distributed: rank %d of %d (%s)", dist.get_rank(), dist.get_world_size(), dist.get_backend())
    return torch.device("cuda", local) if use_cuda else torch.device("cpu")


def teardown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def broadcast_module(module: torch.nn.Module) -> None:
    """Make every rank's parameters and buffers rank 0's."""
    if active():
        for t in [*module.parameters(), *module.buffers()]:
            dist.broadcast(t.data, src=0)


def any_rank(flags: list[bool]) -> list[bool]:
    """Each flag OR-ed over all ranks (a signal on one rank stops all of them at the same step)."""
    if not active():
        return flags
    t = torch.tensor([float(f) for f in flags])
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [bool(v) for v in t.tolist()]


def gather_objects(obj: object) -> list[object]:
    """obj from every rank, in rank order (for per-rank RNG states in checkpoints)."""
    if not active():
        return [obj]
    out: list[object] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out
