"""Where every pixel of one frame would land in another if the world stood still: its depth lifted to a
world point and projected into the other camera. The flow network predicts the rest (what moves itself)."""

from __future__ import annotations

import numpy as np

from mu0.trace_extract.point_tracker import SceneGeometry


def pixel_grid(h: int, w: int) -> np.ndarray:
    """(h*w, 2) float (u, v) of every pixel, row by row."""
    v, u = np.mgrid[0:h, 0:w]
    return np.stack([u.ravel(), v.ravel()], axis=1).astype(np.float64)


def camera_flow(geometry: SceneGeometry, frame: int, other: int, h: int, w: int) -> np.ndarray:
    """(h,w,2) float32 flow from `frame` to `other` of a still world; NaN where `frame` has no depth or the
    point is behind the other camera; clipped to two image sizes (the network reads it as a hint)."""
    uv = pixel_grid(h, w)
    xyz = geometry.anchor(frame, uv)
    to, in_front = geometry.observe(other, xyz, depth_test=False)
    flow = np.where(in_front[:, None], to - uv, np.nan).clip(-2 * max(h, w), 2 * max(h, w))
    return flow.reshape(h, w, 2).astype(np.float32)
