"""What every point tracker is (`PointTracker`) and what it may know of the scene (`SceneGeometry`: depth
and camera poses, alignment.DepthPoseGeometry). Trackers: tracking.py (Lucas–Kanade, the default),
dense_flow.py (DIS), template_tracking.py (rigid templates)."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from mu0.trace_extract.tracks import Tracks2D


class SceneGeometry(Protocol):
    def anchor(self, frame: int, uv_px: np.ndarray) -> np.ndarray:
        """(n,3) world points seen at (n,2) pixels of `frame`; NaN where there is no depth."""
        ...

    def camera_points(self, frame: int, uv_px: np.ndarray) -> np.ndarray:
        """(n,3) points seen at (n,2) pixels of `frame`, in that frame's camera; NaN where there is no depth."""
        ...

    def to_world(self, frame: int, xyz_cam: np.ndarray) -> np.ndarray:
        """(n,3) world points of (n,3) points in `frame`'s camera."""
        ...

    def observe(self, frame: int, xyz_world: np.ndarray, depth_test: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Pixels (n,2) of world points in `frame`, and whether each is visible there (in the image,
        in front of the camera and, with `depth_test`, not behind other geometry)."""
        ...

    def look(self, frame: int, xyz_world: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """`observe` with the depth test, (n,) bool whether the surface seen where each world point projects
        lies behind it (it has moved away), and (n,) by how much the surface seen there lies behind it (metres,
        negative in front, NaN outside the image), from one depth reading."""
        ...

    def depth_map(self, frame: int) -> np.ndarray:
        """(h,w) float32 metres seen in `frame` (0 = no measurement)."""
        ...

    def stays_in_camera(self, frame: int, later: int, uv_px: np.ndarray) -> np.ndarray:
        """(n,) bool: `later` shows the surface at each (n,2) pixel at the depth `frame` shows there."""
        ...

    def camera_moves(self) -> bool:
        """Whether the camera moves during the episode (a wrist camera) or stays put (a fixed one)."""
        ...

    def surface_normals(self, frame: int) -> np.ndarray:
        """(h,w,3) float32 unit normals of the surface seen in `frame` (camera frame), 0 where unknown."""
        ...

    def seedable(self, frame: int) -> np.ndarray:
        """(h,w) bool: pixels away from depth edges. A corner where an object's silhouette crosses the
        background moves with neither surface, so no keypoint is seeded on one."""
        ...


class PointTracker(Protocol):
    def track(self, images: np.ndarray, geometry: SceneGeometry | None = None) -> Tracks2D:
        """Tracks over (t,h,w,3) uint8 RGB frames, of points the tracker picks itself."""
        ...

    def track_queries(self, images: np.ndarray, queries: np.ndarray, geometry: SceneGeometry | None = None
                      ) -> Tracks2D:
        """Tracks of given (n,3) (frame, u, v) query points, forward from each one's frame (evaluation)."""
        ...
