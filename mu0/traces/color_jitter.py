"""Photometric jitter of a training image (the recipe's "RGB ColorJitter 0.3").

Brightness, contrast and saturation are each scaled by a factor drawn uniformly from [1 − s, 1 + s], in
that order, as torchvision's ColorJitter does with brightness = contrast = saturation = s (no hue). It
moves no pixel, so keypoints and traces stay exact. Drawn from the sample's own generator, so a training
draw stays reproducible from (seed, epoch, index).
"""

from __future__ import annotations

import numpy as np

# ITU-R 601 luma weights, the grey torchvision blends contrast and saturation against
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def color_jitter(image: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """(H, W, 3) uint8 → jittered (H, W, 3) uint8; `strength` 0 returns the image unchanged."""
    if strength <= 0:
        return image
    brightness, contrast, saturation = rng.uniform(1 - strength, 1 + strength, size=3)
    x = image.astype(np.float32) / 255.0
    x = np.clip(x * brightness, 0, 1)
    mean_grey = float((x @ LUMA).mean())
    x = np.clip(contrast * x + (1 - contrast) * mean_grey, 0, 1)
    grey = (x @ LUMA)[..., None]
    x = np.clip(saturation * x + (1 - saturation) * grey, 0, 1)
    return np.round(x * 255).astype(np.uint8)
