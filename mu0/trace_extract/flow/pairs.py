"""Training pairs for the flow network from simulated episodes: for a frame with a per-pixel body-id map,
every pixel's true position in a nearby frame (its body's recorded motion, groundtruth.py) and whether it is
seen there, beside the camera flow the extractor itself computes from depth and poses."""

from __future__ import annotations

import dataclasses

import numpy as np

from mu0.episodes import Episode
from mu0.trace_extract.alignment import DepthPoseGeometry, poses_from_extrinsics
from mu0.trace_extract.flow.camera_flow import camera_flow, pixel_grid
from mu0.trace_extract.groundtruth import track_query_pixels


@dataclasses.dataclass
class FlowPair:
    episode: int  # index into the episode list the pairs were made from
    a: int  # source frame (has a body-id map)
    b: int  # target frame
    cam_flow: np.ndarray  # (h,w,2) float16, NaN where frame a has no depth
    true_flow: np.ndarray  # (h,w,2) float16, NaN where the pixel has no ground truth
    seen: np.ndarray  # (h,w) bool: the pixel's point is visible in frame b
    known: np.ndarray  # (h,w) bool: the pixel has ground truth (a body with depth)


def episode_geometry(ep: Episode, depth_window_px: int, depth_tol_m: float) -> DepthPoseGeometry:
    """The geometry the extractor builds for an episode with given camera poses (pipeline.scene_geometry)."""
    return DepthPoseGeometry(np.asarray(ep.depth, np.float32), ep.intrinsics.astype(np.float64),
                             poses_from_extrinsics(ep.extrinsics), depth_window_px, depth_tol_m)


def episode_pairs(ep: Episode, index: int, gaps: tuple[int, ...], every: int, depth_window_px: int,
                  depth_tol_m: float) -> list[FlowPair]:
    """Pairs (a, a ± gap) for every `every`-th frame a with a body-id map, both directions."""
    frames, _ = ep.body_ids
    t, h, w = ep.images.shape[:3]
    geometry = episode_geometry(ep, depth_window_px, depth_tol_m)
    grid = pixel_grid(h, w).astype(np.int64)
    out = []
    for a in frames[::every]:
        others = [b for gap in gaps for b in (a + gap, a - gap) if 0 <= b < t]
        gt = track_query_pixels(ep, grid, np.full(len(grid), a), frames=np.array([a, *others]))
        for i, b in enumerate(others, start=1):
            flow = (gt.uv_px[:, i] - gt.uv_px[:, 0]).reshape(h, w, 2)
            out.append(FlowPair(index, int(a), int(b), camera_flow(geometry, a, b, h, w).astype(np.float16),
                                flow.astype(np.float16), gt.visible[:, i].reshape(h, w), gt.query_valid.reshape(h, w)))
    return out
