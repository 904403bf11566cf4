"""Rollout videos: the frames a policy saw, with μ_0's predicted traces (the ones it was conditioned on)
drawn from their grid keypoints, saved as an animated GIF (plays in a browser and in the MLflow UI)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

SCALE = 3  # frames are upscaled so thin traces stay visible
DRAWN = 16  # the traces that move most are drawn; the rest would only clutter the frame


def draw_frame(frame: np.ndarray, tracks_px: np.ndarray | None, caption: str) -> np.ndarray:
    import cv2

    img = cv2.resize(frame, None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_NEAREST)
    if tracks_px is not None and len(tracks_px):
        motion = np.linalg.norm(tracks_px[:, -1] - tracks_px[:, 0], axis=-1)
        for track in tracks_px[np.argsort(-motion)[:DRAWN]]:
            pts = np.round((track + 0.5) * SCALE).astype(np.int32)
            for i in range(len(pts) - 1):  # early steps green, late steps red
                a = i / max(1, len(pts) - 2)
                cv2.line(img, tuple(pts[i]), tuple(pts[i + 1]), (int(255 * a), int(255 * (1 - a)), 40), 1, cv2.LINE_AA)
            cv2.circle(img, tuple(pts[0]), 2, (255, 255, 255), -1)
    cv2.putText(img, caption, (4, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255), 1, cv2.LINE_AA)
    return img


def save_gif(frames: list[np.ndarray], path: Path, fps: float = 20.0) -> Path:
    """Atomic: written beside `path` and renamed."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    images = [Image.fromarray(f) for f in frames]
    images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    os.replace(tmp, path)
    return path
