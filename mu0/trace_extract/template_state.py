"""The rigid-template tracker's per-track state while it runs (template_tracking.py): each track's template
(offsets D, colours, weights), pose (R, c), velocity and per-frame output. Shapes: n tracks, t frames,
m template points."""

from __future__ import annotations

import numpy as np

from mu0.trace_extract.tracks import Tracks2D


class TemplateTrackState:
    """Per-track template, pose, velocity and per-frame output; grown as tracks are added."""

    def __init__(self, t: int, m: int) -> None:
        self.t, self.m, self.n = t, m, 0
        self.uv = np.full((0, t, 2), np.nan, np.float32)
        self.visible = np.zeros((0, t), bool)
        self.start = np.zeros(0, np.int32)
        self.D, self.ref, self.weight = np.zeros((0, m, 3)), np.zeros((0, m, 3)), np.zeros((0, m))
        self.R, self.c, self.vel = np.zeros((0, 3, 3)), np.zeros((0, 3)), np.zeros((0, 3))
        self.unseen = np.zeros(0, np.int32)
        self.lost = np.full(t, np.nan)

    def add(self, frame: int, uv: np.ndarray, X: np.ndarray, D, ref, weight) -> np.ndarray:
        k = len(uv)
        grow = {"uv": np.full((k, self.t, 2), np.nan, np.float32), "visible": np.zeros((k, self.t), bool),
                "start": np.full(k, frame, np.int32), "D": D, "ref": ref, "weight": weight,
                "R": np.repeat(np.eye(3)[None], k, 0), "c": X, "vel": np.zeros((k, 3)),
                "unseen": np.zeros(k, np.int32)}
        for name, rows in grow.items():
            setattr(self, name, np.concatenate([getattr(self, name), rows]))
        ids = np.arange(self.n, self.n + k)
        self.uv[ids, frame], self.visible[ids, frame] = uv, True
        self.n += k
        return ids

    def result(self) -> Tracks2D:
        return Tracks2D(self.uv.copy(), self.visible.copy(), self.start.copy(), self.lost.copy())
