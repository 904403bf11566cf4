"""The whole model's weights on every rank for a moment (ZeRO stage 3 keeps only a shard of each tensor per
rank): saving a model or a snapshot happens inside this, on rank 0."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def full_weights(engine) -> Iterator[torch.nn.Module]:
    """engine.module with every parameter whole (every rank must enter: gathering is collective)."""
    if engine.zero_optimization_stage() < 3:
        yield engine.module
        return
    import deepspeed

    with deepspeed.zero.GatheredParameters(list(engine.module.parameters()), modifier_rank=None):
        yield engine.module
