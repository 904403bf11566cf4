"""The Lucas–Kanade tracker's per-track state while it runs (tracking.py). Shapes: capacity tracks, t frames."""

from __future__ import annotations

import numpy as np

from mu0.trace_extract.tracks import Tracks2D


class LKTrackState:
    """Growable per-track arrays: positions and visibility per frame, plus the world anchor state."""

    def __init__(self, t: int, capacity: int = 256) -> None:
        self.t, self.n = t, 0
        self.uv = np.full((capacity, t, 2), np.nan, np.float32)
        self.visible = np.zeros((capacity, t), bool)
        self.start = np.zeros(capacity, np.int32)
        self.anchor = np.full((capacity, 3), np.nan)
        self.xyz = np.full((capacity, t, 3), np.nan)  # world position per frame where seen (neighbour_motion.py)
        self.static = np.zeros(capacity, bool)
        self.carried = np.zeros(capacity, bool)  # moves with the camera (found at its start)
        self.part = np.zeros(capacity, np.int32)  # the carried part it moves with, 1-based (carried_parts.py)
        self.cam = np.full((capacity, 3), np.nan)  # its camera-frame point where its part started
        self.strikes = np.zeros(capacity, np.int16)  # consecutive failed static checks
        self.shadow = np.full((capacity, 2), np.nan, np.float32)  # LK's own path of a static point (departure="path")
        self.lk_lost = np.full(t, np.nan)

    def add(self, uv: np.ndarray, frame: int, anchor: np.ndarray) -> np.ndarray:
        k = len(uv)
        while self.n + k > len(self.start):
            for name in ("uv", "visible", "start", "anchor", "xyz", "static", "carried", "part", "cam", "strikes",
                         "shadow"):
                arr = getattr(self, name)
                fill = np.nan if arr.dtype.kind == "f" else 0
                setattr(self, name, np.concatenate([arr, np.full_like(arr, fill)]))
        ids = np.arange(self.n, self.n + k)
        self.uv[ids, frame], self.visible[ids, frame], self.start[ids] = uv, True, frame
        self.shadow[ids] = uv
        self.anchor[ids] = anchor
        self.xyz[ids, frame] = anchor
        self.static[ids] = np.all(np.isfinite(anchor), axis=1)
        self.n += k
        return ids

    def result(self) -> Tracks2D:
        return Tracks2D(self.uv[: self.n].copy(), self.visible[: self.n].copy(), self.start[: self.n].copy(),
                        self.lk_lost.copy(), self.xyz[: self.n].copy())
