"""Pictures of tracks on frames, so a person can see what TraceExtract did."""

from __future__ import annotations

from pathlib import Path

import numpy as np

MOVING = (255, 140, 0)
STATIC = (60, 220, 60)
TRUTH = (230, 30, 30)


def track_overlay(images: np.ndarray, uv_px: np.ndarray, visible: np.ndarray, moving: np.ndarray,
                  truth_uv_px: np.ndarray | None = None, frames: int = 4, scale: int = 3) -> np.ndarray:
    """A strip of `frames` frames (upscaled) with visible tracks drawn: moving ones orange with a
    short tail, static ones green; ground-truth positions of the same points, if given, in red."""
    import cv2

    t = images.shape[0]
    picks = np.linspace(0, t - 1, frames).round().astype(int)
    tiles = []
    for f in picks:
        img = cv2.resize(np.ascontiguousarray(images[f]), None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        for k in np.flatnonzero(visible[:, f]):
            colour = MOVING if moving[k] else STATIC
            if moving[k]:
                tail = [p for p in uv_px[k, max(0, f - 8): f + 1] if np.all(np.isfinite(p))]
                for a, b in zip(tail[:-1], tail[1:], strict=True):
                    cv2.line(img, tuple((a * scale).astype(int)), tuple((b * scale).astype(int)), colour, 1)
            cv2.circle(img, tuple((uv_px[k, f] * scale).astype(int)), 2, colour, -1)
        if truth_uv_px is not None:
            for p in truth_uv_px[:, f]:
                if np.all(np.isfinite(p)):
                    cv2.drawMarker(img, tuple((p * scale).astype(int)), TRUTH, cv2.MARKER_CROSS, 5, 1)
        cv2.putText(img, f"t={f}", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1)
        tiles.append(img)
    return np.concatenate(tiles, axis=1)


def save_png(image: np.ndarray, path: Path) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)
    return path
