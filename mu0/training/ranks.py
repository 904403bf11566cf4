"""Where this process stands in a data-parallel run, and the few collectives the training loop needs.

Before the process group exists the launcher's environment (RANK, WORLD_SIZE, as `deepspeed` and `torchrun`
set them) says it; one process without a launcher is rank 0 of 1. Only rank 0 writes models, reports and
tracking runs. Importing this module imports no torch (the stages ask it before they train).
"""

from __future__ import annotations

import dataclasses
import os


@dataclasses.dataclass(frozen=True)
class Shard:
    """One rank's place in a data-parallel run."""

    rank: int = 0
    world: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.rank < self.world:
            raise ValueError(f"rank {self.rank} outside a world of {self.world}")


def _group() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def current_shard() -> Shard:
    if _group():
        import torch.distributed as dist

        return Shard(dist.get_rank(), dist.get_world_size())
    return Shard(int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1")))


def is_main() -> bool:
    return current_shard().rank == 0


def barrier() -> None:
    if _group() and current_shard().world > 1:
        import torch.distributed as dist

        dist.barrier()


def mean_over_ranks(value: float) -> float:
    """The mean of `value` over all ranks (the value itself for one)."""
    if not _group() or current_shard().world == 1:
        return value
    import torch
    import torch.distributed as dist

    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t[0]) / current_shard().world


def any_rank(flag: bool) -> bool:
    """True if `flag` is true on any rank, so every rank takes the same branch (stop, refuse)."""
    if not _group() or current_shard().world == 1:
        return flag
    import torch
    import torch.distributed as dist

    t = torch.tensor([1.0 if flag else 0.0])
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t[0] > 0)
