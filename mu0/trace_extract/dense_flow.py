"""Points moved by dense optical flow instead of per-point Lucas–Kanade: OpenCV's DIS flow, computed once
per frame pair and read at each point. Its variational refinement propagates motion into regions without
texture (a uniformly coloured finger pad), where a corner tracker has nothing to lock on. Everything else
(seeding, world anchors, the static/moving switch, the forward–backward check) is the LK tracker's.
"""

from __future__ import annotations

import numpy as np

from mu0.trace_extract.point_tracker import SceneGeometry
from mu0.trace_extract.tracking import LucasKanadeTracker

_CACHE = 8  # flows kept: a frame pair is asked for by the step and by the departure check


class DenseFlowTracker(LucasKanadeTracker):
    def __init__(self, *args, **kwargs) -> None:
        import cv2

        super().__init__(*args, **kwargs)
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        self._flows: dict[tuple[int, int], np.ndarray] = {}

    def _begin(self, images: np.ndarray, grays: list[np.ndarray], geometry: SceneGeometry | None) -> None:
        super()._begin(images, grays, geometry)
        self._flows.clear()

    def _flow(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        key = (id(a), id(b))  # one episode's grey frames live while it is tracked, so ids do not repeat
        if key not in self._flows:
            if len(self._flows) >= _CACHE:
                self._flows.pop(next(iter(self._flows)))
            self._flows[key] = self._pair_flow(a, b)
        return self._flows[key]

    def _pair_flow(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(h,w,2) float32 flow from grey frame a to grey frame b."""
        return self._dis.calc(a, b, None)

    @staticmethod
    def _at(flow: np.ndarray, p: np.ndarray) -> np.ndarray:
        import cv2

        x = p[:, 0].reshape(-1, 1).astype(np.float32)
        y = p[:, 1].reshape(-1, 1).astype(np.float32)
        return cv2.remap(flow, x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).reshape(-1, 2)

    def _lk(self, prev: np.ndarray, cur: np.ndarray, p0: np.ndarray, guess: np.ndarray | None,
            window: tuple[int, int] | None = None, shape: bool = True):
        """Same contract as LK's step: new positions and forward–backward errors (inf where undefined).
        The flow needs no start guess (it sees camera motion itself), no window and no shape channels."""
        p0 = p0.reshape(-1, 2).astype(np.float32)
        if not len(p0):
            return p0, np.zeros(0)
        p1 = p0 + self._at(self._flow(prev, cur), p0)
        back = p1 + self._at(self._flow(cur, prev), p1)
        fb = np.linalg.norm(back - p0, axis=1).astype(np.float64)
        fb[~np.all(np.isfinite(p1), axis=1)] = np.inf
        return p1, fb
