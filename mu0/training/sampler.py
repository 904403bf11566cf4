"""Which samples each rank reads at each micro-step: a function of (seed, position) only, so a run is exactly
resumable and its data does not depend on how the global batch is split across ranks.

An optimizer step consumes one global batch of micro × accumulation × world samples, taken in order from a
permutation of the dataset seeded by (seed, epoch); an epoch holds n // global batch steps (the remainder is
dropped). Within a step, micro-step a of rank r reads slot a·world + r of the global batch, and its random draws
(noise, flow time) are seeded by the same slot: 1 rank × 2 accumulation steps and 2 ranks × 1 read the same
samples with the same noise, so their losses and gradients agree to float tolerance.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from mu0.config import TrainConfig
from mu0.training.ranks import Shard


def global_batch(cfg: TrainConfig, world: int) -> int:
    return cfg.micro_batch * cfg.grad_accumulation * world


def steps_per_epoch(n: int, cfg: TrainConfig, world: int) -> int:
    return max(1, n // global_batch(cfg, world))


def micro_slot(cfg: TrainConfig, shard: Shard, step: int, micro: int) -> int:
    """The global index of micro-step `micro` of optimizer step `step` on this rank (what seeds its draws)."""
    return (step * cfg.grad_accumulation + micro) * shard.world + shard.rank


def rank_micro_batches(n: int, cfg: TrainConfig, shard: Shard, start_step: int) -> Iterator[list[tuple[int, int]]]:
    """This rank's micro-batches of (index, epoch) keys, from optimizer step `start_step` on, forever."""
    micro, accum, world = cfg.micro_batch, cfg.grad_accumulation, shard.world
    per_epoch = steps_per_epoch(n, cfg, world)
    epoch, offset = divmod(start_step, per_epoch)
    while True:
        order = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)).tolist()
        for step in range(offset, per_epoch):
            base = step * global_batch(cfg, world)
            for a in range(accum):
                slot = a * world + shard.rank
                yield [(j, epoch) for j in order[base + slot * micro:base + (slot + 1) * micro]]
        epoch, offset = epoch + 1, 0


def micro_batch_loader(dataset, cfg: TrainConfig, start_step: int, shard: Shard = Shard()) -> Iterator[dict]:
    """This rank's micro-batches as collated batches (DataLoader workers if cfg.num_workers)."""
    sampler = rank_micro_batches(len(dataset), cfg, shard, start_step)
    return iter(torch.utils.data.DataLoader(dataset, batch_sampler=sampler, num_workers=cfg.num_workers))


def seed_micro_step(seed: int, slot: int) -> None:
    """Seed torch's draws for one micro-step (its global slot; negative slots are evaluation batches)."""
    torch.manual_seed(seed * 1_000_003 + slot)
