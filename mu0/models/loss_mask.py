"""Which keypoints of a batch enter a trace model's loss. Shapes: b batch, n keypoints."""

from __future__ import annotations

import torch


def trainable(batch: dict, num_ctrl: int) -> torch.Tensor:
    """(b,n) keypoints that enter the loss: the dataset's gate (`trainable`: enough valid future steps,
    TraceDataConfig.min_valid_steps), or, for batches without it, the recipe's K valid steps."""
    if "trainable" in batch:
        return batch["point_mask"] & batch["trainable"]
    return batch["point_mask"] & (batch["future_valid"].sum(-1) >= num_ctrl)
