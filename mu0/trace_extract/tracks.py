"""The track containers passed between TraceExtract stages. Shapes: k tracks, t frames."""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass
class Tracks2D:
    uv_px: np.ndarray  # (k,t,2) float32 pixel positions (u = column, v = row); NaN where unknown
    visible: np.ndarray  # (k,t) bool: tracked and visible at that frame
    start: np.ndarray  # (k,) int frame each track was seeded in
    # (t,) share of the points LK followed into frame f that it lost there (NaN if too few to tell);
    # a cut shows up here even when geometry keeps static points "visible" by prediction
    lk_lost: np.ndarray | None = None
    # (k,t,3) the tracker's own world point where it knows one (LK with depth and poses: a static point's anchor, a
    # carried part's fit), NaN elsewhere; None from trackers that keep none (lifting.py prefers it to the depth)
    xyz_world: np.ndarray | None = None

    @property
    def num_tracks(self) -> int:
        return int(self.uv_px.shape[0])

    def subset(self, keep: np.ndarray) -> Tracks2D:
        xyz = None if self.xyz_world is None else self.xyz_world[keep]
        return Tracks2D(self.uv_px[keep], self.visible[keep], self.start[keep], self.lk_lost, xyz)


@dataclasses.dataclass
class Tracks3D:
    tracks: Tracks2D
    xyz_cam: np.ndarray  # (k,t,3) metres in each frame's own camera; NaN where unknown
    xyz_world: np.ndarray  # (k,t,3) metres in the world frame; NaN where unknown
    has_depth: np.ndarray  # (k,t) bool: visible and lifted with a valid depth
    # (k,t) bool: the position is known there even where the point is not seen (simulator truth
    # through occlusions); None for tracked points, whose positions are known only where they are seen
    known: np.ndarray | None = None

    @property
    def position_known(self) -> np.ndarray:
        return self.has_depth if self.known is None else self.known
