"""A random translation of a training sample, image and keypoints together (DrQ's random shift, made exact).

The image (and depth) moves by a whole number of pixels (dx, dy) drawn within ±`max_px`, edges replicated,
and the query keypoints and the principal point move with it, so every keypoint still sits on the pixel it
was on. Future and history are deltas from the keypoint, so they do not change. Shifting the image alone
(the scene encoder's `scene_shift`) blurs the layout the model has to relate to each keypoint; this does not.
Drawn from the sample's own generator, so a training draw stays reproducible from (seed, epoch, index).
"""

from __future__ import annotations

import numpy as np


def draw_shift(max_px: int, rng: np.random.Generator) -> tuple[int, int]:
    """(dx, dy) in pixels; (0, 0) when `max_px` is 0 (and then nothing is drawn)."""
    if max_px <= 0:
        return 0, 0
    dx, dy = rng.integers(-max_px, max_px + 1, size=2)
    return int(dx), int(dy)


def shift_image(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """(H, W, ...) → the same array with content moved right by dx and down by dy, edges replicated."""
    if dx == 0 and dy == 0:
        return image
    h, w = image.shape[:2]
    rows = np.clip(np.arange(h) - dy, 0, h - 1)
    cols = np.clip(np.arange(w) - dx, 0, w - 1)
    return image[rows][:, cols]


def shift_intrinsics(intrinsics: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """(3, 3) K with the principal point moved with the image (NaN K stays NaN)."""
    out = np.array(intrinsics, np.float32)
    out[0, 2] += dx
    out[1, 2] += dy
    return out
