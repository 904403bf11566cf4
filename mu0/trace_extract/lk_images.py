"""What Lucas–Kanade follows when the scene's depth is known: the grey frame plus the surface's orientation.

A uniformly coloured part (an arm link, a finger pad) gives LK no grey gradient to lock on, but its shape
does: where the surface curves or bends, its normal changes. Two extra channels hold the normal's x and y
components (from the depth map, `DepthPoseGeometry.surface_normals`), so LK's window sees the part's shape
move with it. OpenCV's LK takes multi-channel 8-bit images and sums over the channels.
"""

from __future__ import annotations

import numpy as np


def with_shape(gray: np.ndarray, normals: np.ndarray, gain: float) -> np.ndarray:
    """(h,w,3) uint8: the (h,w) grey frame, then the x and y components of the (h,w,3) unit surface normals
    (camera frame, 0 where unknown) as 128 + `gain`·n, clipped to 0..255."""
    out = np.empty(gray.shape + (3,), np.uint8)
    out[..., 0] = gray
    out[..., 1:] = np.clip(normals[..., :2] * gain + 128.0, 0, 255)
    return out
