"""True 3D and 2D tracks of query pixels from simulator ground truth (`gt/` of a simulated episode).

A query pixel of its query frame (frame 0 unless said) is lifted with that frame's rendered depth,
attached to the rigid body seen at that pixel (gt/body_ids.npy holds the maps of some frames),
carried along that body's recorded poses, and projected into every frame's camera. A point counts as
visible where it lies inside the image, in front of the camera, and the rendered depth at its pixel
agrees with its own depth (otherwise something occludes it).
Shapes: n query points, t frames.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mu0.episodes import Episode, EpisodeFormatError
from mu0.episodes.schema import GT_BODIES


def quat_wxyz_to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) unit quaternions (w, x, y, z), MuJoCo's order, to (..., 3, 3) rotation matrices."""
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


@dataclasses.dataclass(frozen=True)
class GroundTruthTracks:
    query_uv_px: np.ndarray  # (n,2) query pixels in their query frames
    query_valid: np.ndarray  # (n,) bool: the pixel sees a body with depth (else its track is NaN, invisible)
    body_ids: np.ndarray  # (n,) MuJoCo body each point is attached to (0 = world, i.e. static)
    xyz_world: np.ndarray  # (n,t,3) metres
    uv_px: np.ndarray  # (n,t,2) projection into each frame's camera, pixels
    z_cam_m: np.ndarray  # (n,t) depth along each frame's optical axis, metres
    visible: np.ndarray  # (n,t) bool


def _lift_queries(ep: Episode, query_uv_px: np.ndarray, query_frames: np.ndarray):
    """World points (n,3), body ids (n,) and validity (n,) of integer query pixels, each lifted in its
    own query frame (one that has a body-id map)."""
    id_frames, id_maps = ep.body_ids
    slot = np.searchsorted(id_frames, query_frames)
    if np.any(slot >= len(id_frames)) or np.any(id_frames[np.minimum(slot, len(id_frames) - 1)] != query_frames):
        missing = sorted(set(query_frames.tolist()) - set(id_frames.tolist()))
        raise ValueError(f"{ep.path}: no per-pixel body ids for query frames {missing[:8]} (gt has frames "
                         f"{id_frames.tolist()[:8]}{'…' if len(id_frames) > 8 else ''})")
    u, v = query_uv_px[:, 0], query_uv_px[:, 1]
    h, w = id_maps.shape[1:]
    if np.any((u < 0) | (u >= w) | (v < 0) | (v >= h)):
        raise ValueError(f"{ep.path}: query pixels must lie inside the {w}x{h} image")
    xyz = np.full((len(u), 3), np.nan)
    ids = id_maps[slot, v, u]
    z = np.zeros(len(u))
    for f in np.unique(query_frames):
        sel = query_frames == f
        z[sel] = np.asarray(ep.depth[f], np.float64)[v[sel], u[sel]]
        K = ep.intrinsics[f].astype(np.float64)
        rays = np.linalg.inv(K) @ np.stack([u[sel], v[sel], np.ones(sel.sum())]).astype(np.float64)  # (3,k)
        T_world_cam = np.linalg.inv(ep.extrinsics[f].astype(np.float64))
        xyz[sel] = (rays * z[sel]).T @ T_world_cam[:3, :3].T + T_world_cam[:3, 3]
    valid = (ids >= 0) & (z > 0)  # sky and background without geometry have no ground truth
    return xyz, np.where(valid, ids, 0), valid


def track_query_pixels(ep: Episode, query_uv_px: np.ndarray, query_frames: np.ndarray | None = None,
                       depth_tol_m: float = 0.01, depth_tol_rel: float = 0.02, frames: np.ndarray | None = None
                       ) -> GroundTruthTracks:
    """Ground-truth tracks over every frame (or only `frames`, in that order) of integer pixels (n,2)
    (u = column, v = row), each chosen in its query frame (n,) (default: frame 0)."""
    if ep.gt_dir is None or ep.depth is None:
        raise EpisodeFormatError(ep.path, "gt", "ground-truth tracks need gt/ and depth (simulated episodes)")
    query_uv_px = np.asarray(query_uv_px, np.int64).reshape(-1, 2)
    query_frames = np.zeros(len(query_uv_px), np.int64) if query_frames is None else np.asarray(query_frames, np.int64)
    with np.load(ep.path / GT_BODIES, allow_pickle=False) as bodies:
        xpos, xquat = bodies["xpos"], bodies["xquat"]  # (t,b,3), (t,b,4)
    xyz_q, ids, valid = _lift_queries(ep, query_uv_px, query_frames)
    out = np.arange(ep.num_frames) if frames is None else np.asarray(frames, np.int64)
    R_q = quat_wxyz_to_matrix(xquat[query_frames, ids])  # (n,3,3) body-to-world at each query frame
    xyz_body = np.einsum("nji,nj->ni", R_q, xyz_q - xpos[query_frames, ids])  # Rqᵀ (x − pq)
    R, p = quat_wxyz_to_matrix(xquat[out][:, ids]), xpos[out][:, ids]  # (t,n,3,3), (t,n,3)
    xyz_world = np.einsum("tnij,nj->tni", R, xyz_body) + p  # (t,n,3)
    E = ep.extrinsics[out].astype(np.float64)  # (t,4,4) world-to-camera
    xyz_cam = np.einsum("tij,tnj->tni", E[:, :3, :3], xyz_world) + E[:, None, :3, 3]
    z = xyz_cam[..., 2]
    proj = np.einsum("tij,tnj->tni", ep.intrinsics[out].astype(np.float64), xyz_cam)
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = proj[..., :2] / proj[..., 2:3]
    xyz_world[:, ~valid], uv[:, ~valid], z[:, ~valid] = np.nan, np.nan, np.nan
    visible = _visibility(ep, out, uv, z, depth_tol_m, depth_tol_rel)
    return GroundTruthTracks(query_uv_px, valid, ids, np.swapaxes(xyz_world, 0, 1), np.swapaxes(uv, 0, 1),
                             z.T, visible.T)


def _visibility(ep: Episode, frames: np.ndarray, uv: np.ndarray, z: np.ndarray, tol_m: float, tol_rel: float
                ) -> np.ndarray:
    """(t,n) bool for each of `frames`: in the image, in front of the camera and not occluded according to
    rendered depth."""
    t, n = z.shape
    h, w = ep.depth.shape[1:]
    with np.errstate(invalid="ignore"):
        cols = np.nan_to_num(np.rint(uv[..., 0]), nan=-1.0)
        rows = np.nan_to_num(np.rint(uv[..., 1]), nan=-1.0)
    inside = np.isfinite(z) & (z > 0) & (cols >= 0) & (cols < w) & (rows >= 0) & (rows < h)
    visible = np.zeros((t, n), bool)
    for i, frame in enumerate(frames):
        sel = inside[i]
        if not np.any(sel):
            continue
        seen = np.asarray(ep.depth[frame], np.float64)[rows[i, sel].astype(int), cols[i, sel].astype(int)]
        visible[i, sel] = np.abs(seen - z[i, sel]) <= np.maximum(tol_m, tol_rel * z[i, sel])
    return visible
