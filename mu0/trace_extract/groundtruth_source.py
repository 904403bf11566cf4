"""The `groundtruth` tracker: simulator-exact tracks for simulated episodes (those with gt/).

Keypoints are seeded in frame 0 on a regular pixel grid plus up to `per_body` pixels of every body
seen there (so a small finger pad or handle gets points, not only what the grid happens to hit).
Each point is carried along its body's recorded poses: its true position is known in every frame,
occluded or not; `visible` is the true visibility (in view and not behind other geometry). A point
moves when its true world position spans more than the motion threshold; the entities are the
moving bodies. The rest of TraceExtract (samples, retargeting, captions) runs unchanged on these
tracks. Points on bodies hidden in frame 0 are not seeded (gt/ has body ids for frame 0 only).
Shapes: k tracks, t frames.
"""

from __future__ import annotations

import numpy as np

from mu0.episodes import Episode, EpisodeFormatError
from mu0.episodes.hashing import episode_seed
from mu0.trace_extract.groundtruth import track_query_pixels
from mu0.trace_extract.tracks import Tracks2D, Tracks3D

SOURCE_NAME = "groundtruth"


def require_ground_truth(ep: Episode) -> None:
    if ep.gt_dir is None or ep.depth is None:
        raise EpisodeFormatError(ep.path, "gt", "the groundtruth tracker needs simulator ground truth (gt/ and "
                                 "depth.npy); this episode has none. Use --tracker auto (TraceExtractConfig.tracker) "
                                 "to fall back to TraceExtract's own tracker for such episodes")


def seed_pixels(body_ids: np.ndarray, depth0: np.ndarray, grid_px: int, per_body: int,
                rng: np.random.Generator) -> np.ndarray:
    """(k,2) integer pixels (u, v) of frame 0 that see a body with depth: a grid, plus up to
    `per_body` random pixels of every body (bodies smaller than the grid cell included)."""
    ok = (body_ids >= 0) & (depth0 > 0)
    rows, cols = np.mgrid[grid_px // 2: ok.shape[0]: grid_px, grid_px // 2: ok.shape[1]: grid_px]
    grid = np.stack([cols.ravel(), rows.ravel()], axis=1)
    picks = [grid[ok[grid[:, 1], grid[:, 0]]]]
    for body in np.unique(body_ids[ok]):
        r, c = np.nonzero(ok & (body_ids == body))
        take = rng.choice(len(r), size=min(per_body, len(r)), replace=False)
        picks.append(np.stack([c[take], r[take]], axis=1))
    return np.unique(np.concatenate(picks), axis=0).astype(np.int64)


def groundtruth_tracks(ep: Episode, grid_px: int, per_body: int, moving_threshold_m: float
                       ) -> tuple[Tracks3D, np.ndarray, np.ndarray]:
    """Tracks3D (positions known in every frame where the point is in front of the camera), is_moving
    (k,) and entity ids (k,): 0 for static points, 1.. for moving bodies, the most-seeded first."""
    require_ground_truth(ep)
    body_ids = ep.body_ids[1][0]  # frame 0's map: the tracks are seeded there
    rng = np.random.default_rng(episode_seed(ep.episode_id))
    query = seed_pixels(body_ids, np.asarray(ep.depth[0], np.float32), grid_px, per_body, rng)
    gt = track_query_pixels(ep, query)
    keep = gt.query_valid
    uv, z, xyz_world = gt.uv_px[keep], gt.z_cam_m[keep], gt.xyz_world[keep]
    known = np.isfinite(z) & (z > 1e-6)
    E = ep.extrinsics.astype(np.float64)
    xyz_cam = np.einsum("tij,ktj->kti", E[:, :3, :3], xyz_world) + E[None, :, :3, 3]
    tracks = Tracks2D(uv.astype(np.float32), gt.visible[keep], np.zeros(int(keep.sum()), np.int32))
    t3 = Tracks3D(tracks, xyz_cam, xyz_world, gt.visible[keep], known=known)
    with np.errstate(invalid="ignore"):
        span = np.linalg.norm(np.nanmax(xyz_world, axis=1) - np.nanmin(xyz_world, axis=1), axis=1)
    moving = np.nan_to_num(span, nan=0.0) > moving_threshold_m
    return t3, moving, _entities(gt.body_ids[keep], moving)


def _entities(bodies: np.ndarray, moving: np.ndarray) -> np.ndarray:
    """Entity id per point: each body with moving points is one entity (largest first); static points 0."""
    ids = np.zeros(len(bodies), np.int32)
    moving_bodies, counts = np.unique(bodies[moving], return_counts=True)
    for rank, body in enumerate(moving_bodies[np.argsort(-counts, kind="stable")], start=1):
        ids[moving & (bodies == body)] = rank
    return ids
