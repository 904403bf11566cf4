"""Kinematic baselines in anchor-relative unit coordinates: nothing moves, or everything keeps the
velocity of its last history step. Shapes: b batch, n keypoints, p history steps, h horizon."""

from __future__ import annotations

import torch


def static(history: torch.Tensor, horizon: int) -> torch.Tensor:
    """Every keypoint stays where it is: (b,n,h,3) zeros."""
    b, n = history.shape[:2]
    return history.new_zeros(b, n, horizon, 3)


def constant_velocity(history: torch.Tensor, history_valid: torch.Tensor, horizon: int) -> torch.Tensor:
    """history[..., 0, :] is the position one step back minus the current one; keep that step going.
    A keypoint without a valid last step stays put."""
    step = -history[..., 0, :] * history_valid[..., 0, None]  # (b,n,3)
    k = torch.arange(1, horizon + 1, dtype=history.dtype, device=history.device)
    return step[:, :, None, :] * k[None, None, :, None]
