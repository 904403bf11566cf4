"""Which keypoints of a batch enter a trace model's loss. Shapes: b batch, n keypoints."""

from __future__ import annotations

import torch

from mu0.batch import FUTURE_VALID, POINT_MASK, TRAINABLE


def trainable(batch: dict, num_ctrl: int) -> torch.Tensor:
    """(b,n) keypoints that enter the loss: the dataset's gate (`trainable`: enough valid future steps,
    TraceDataConfig.min_valid_steps), or, for batches without it, the recipe's K valid steps."""
    if TRAINABLE in batch:
        return batch[POINT_MASK] & batch[TRAINABLE]
    return batch[POINT_MASK] & (batch[FUTURE_VALID].sum(-1) >= num_ctrl)
