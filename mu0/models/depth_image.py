"""Metric depth as a second image, the way the released recipe feeds it: log depth mapped over a dataset-wide
range (1st–99th percentile of the training frames' log depth) onto OpenCV's turbo colour scale, near at the
scale's top, so the same vision tower that reads the RGB frame reads depth. Holes (no depth, NaN, ≤ 0) take
the far end, as if nothing were there.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import numpy as np
import torch

RANGE_PERCENTILES = (1.0, 99.0)


@functools.cache
def _turbo() -> torch.Tensor:
    """(256, 3) uint8 RGB: OpenCV's turbo colour scale, index 0 far, 255 near."""
    import cv2

    bgr = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_TURBO)[:, 0]
    return torch.from_numpy(np.ascontiguousarray(bgr[:, ::-1]))


def reads_depth_image(model_cfg) -> bool:
    """Whether a model of this config (any kind) reads the depth image."""
    backbone = getattr(model_cfg, "backbone", None)
    return bool(backbone is not None and backbone.depth_image)


def log_depth_range(depths: Iterable[np.ndarray]) -> tuple[float, float]:
    """(low, high) natural-log depth (ln metres) over every finite positive pixel of these frames: the
    1st and 99th percentiles. A range of no width, or no depth at all, is an error."""
    logs = [np.log(d[np.isfinite(d) & (d > 0)]) for d in (np.asarray(x, np.float32) for x in depths)]
    values = np.concatenate(logs) if logs else np.zeros(0, np.float32)
    if values.size == 0:
        raise ValueError("no finite positive depth pixel to measure a depth range on")
    low, high = (float(v) for v in np.percentile(values, RANGE_PERCENTILES))
    if not high > low:
        raise ValueError(f"the depth range has no width (log depth {low:.4f} at both percentiles)")
    return low, high


def colorize_depth(depth: torch.Tensor, log_range: tuple[float, float]) -> torch.Tensor:
    """(b,1,h,w) metres → (b,3,h,w) uint8 RGB on the turbo scale over `log_range` (near = index 255)."""
    low, high = log_range
    ok = torch.isfinite(depth) & (depth > 0)
    logd = torch.log(torch.where(ok, depth, torch.ones_like(depth)))
    near = ((high - logd) / (high - low)).clamp(0.0, 1.0)
    index = torch.where(ok, (near * 255).round(), torch.zeros_like(near)).long()[:, 0]
    return _turbo().to(depth.device)[index].permute(0, 3, 1, 2).contiguous()


def has_depth(depth: torch.Tensor) -> torch.Tensor:
    """(b,1,h,w) → (b,) bool: the frame has any usable depth (a 2D-only episode's depth is all NaN)."""
    return (torch.isfinite(depth) & (depth > 0)).flatten(1).any(dim=1)
