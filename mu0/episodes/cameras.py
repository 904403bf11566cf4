"""The episode layout's camera convention (`cameras.npz`): world points to pixels.

Intrinsics are pinhole K (3,3), extrinsics world-to-camera (4,4) in OpenCV's convention (x right, y down,
z forward); pixel centres are at integer coordinates.
"""

from __future__ import annotations

import numpy as np


def world_to_pixels(xyz: np.ndarray, intrinsics: np.ndarray, extrinsics: np.ndarray) -> np.ndarray:
    """Pixels (...,2) of world points (...,3) seen by cameras intrinsics (...,3,3), extrinsics (...,4,4) (leading
    axes broadcast: one camera for all points, or one per frame); NaN for a point at or behind the camera."""
    E = np.asarray(extrinsics, np.float64)
    cam = np.einsum("...ij,...j->...i", E[..., :3, :3], np.asarray(xyz, np.float64)) + E[..., :3, 3]
    img = np.einsum("...ij,...j->...i", np.asarray(intrinsics, np.float64), cam)
    z = cam[..., 2:3]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(z > 1e-6, img[..., :2] / z, np.nan)
