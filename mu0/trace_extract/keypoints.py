"""Keypoint selection: trackable points spread over the image, at most one per grid cell.

The default selector needs no weights: it takes, in every grid cell not already covered by a live
track ("mask-then-generate"), the pixel with the strongest corner response (minimum eigenvalue of
the structure tensor), if that response is strong enough to track. Cells where the frame changes
(motion) are served first when the budget is short, so moving things get keypoints. A learned
selector (DINO-style features) implements the same `select`.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

# A moving camera's border shows scenery entering and leaving, where LK's window falls off one frame and not the
# other: no keypoint that near it. A still camera's border is as steady as its middle, and seeding up to it covers
# the Sawyer's head, a 3-row strip at the front camera's top (tuning tasks: front coverage 0.89 → 1.00; seeding
# the wrist camera's border too raised its false motion 0.101 → 0.110).
MOVING_CAMERA_BORDER_PX = 3


def inside_border(hw: tuple[int, int], px: int) -> np.ndarray:
    """(h,w) bool: pixels at least `px` from the image's border."""
    out = np.zeros(hw, bool)
    out[px:hw[0] - px, px:hw[1] - px] = True
    return out


class KeypointSelector(Protocol):
    def select(self, gray: np.ndarray, covered: np.ndarray, motion: np.ndarray | None, budget: int,
               allowed: np.ndarray | None = None, any_texture: bool = False) -> np.ndarray:
        """(n,2) float32 integer pixel positions (u, v) of new keypoints in `gray` (h,w) uint8, none in
        a grid cell where `covered` (cells_h, cells_w) is True nor where `allowed` (h,w) is False;
        `motion` (h,w) bool marks changing pixels, served first. With `any_texture` a cell without any
        corner still gets a point (for a tracker that needs no texture)."""
        ...


class CornerGridSelector:
    def __init__(self, grid_px: int, min_texture: float, block_px: int = 3) -> None:
        self.grid_px, self.min_texture, self.block_px = grid_px, min_texture, block_px

    def select(self, gray: np.ndarray, covered: np.ndarray, motion: np.ndarray | None, budget: int,
               allowed: np.ndarray | None = None, any_texture: bool = False) -> np.ndarray:
        import cv2

        if budget <= 0:
            return np.empty((0, 2), np.float32)
        g = self.grid_px
        h, w = gray.shape
        ch, cw = covered.shape
        strength = cv2.cornerMinEigenVal(gray, self.block_px)
        # the structure tensor's block must lie inside the image (a moving camera's border is `seedable`'s)
        m = self.block_px // 2
        strength[:m], strength[h - m:], strength[:, :m], strength[:, w - m:] = 0, 0, 0, 0
        if allowed is not None:
            strength[~allowed] = -1.0 if any_texture else 0
        cells = strength[: ch * g, : cw * g].reshape(ch, g, cw, g).transpose(0, 2, 1, 3).reshape(ch, cw, g * g)
        best = cells.argmax(axis=2)
        best_val = np.take_along_axis(cells, best[..., None], axis=2)[..., 0]
        ok = (best_val >= 0 if any_texture else best_val > self.min_texture * max(float(strength.max()), 1e-12)) \
            & ~covered
        rows, cols = np.nonzero(ok)
        v = rows * g + best[rows, cols] // g
        u = cols * g + best[rows, cols] % g
        score = best_val[rows, cols]
        if motion is not None:  # moving cells first, then by corner strength
            score = score + (motion[v, u] > 0) * (score.max() + 1.0 if score.size else 1.0)
        order = np.argsort(-score, kind="stable")[:budget]
        return np.stack([u[order], v[order]], axis=1).astype(np.float32)


def coverage_grid(uv_px: np.ndarray, hw: tuple[int, int], grid_px: int) -> np.ndarray:
    """(cells_h, cells_w) bool: grid cells containing at least one of the (n,2) points."""
    h, w = hw
    cells = np.zeros((h // grid_px, w // grid_px), bool)
    if len(uv_px):
        c = np.floor(uv_px[:, 0] / grid_px).astype(int)
        r = np.floor(uv_px[:, 1] / grid_px).astype(int)
        ok = (r >= 0) & (r < cells.shape[0]) & (c >= 0) & (c < cells.shape[1])
        cells[r[ok], c[ok]] = True
    return cells
