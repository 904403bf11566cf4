"""Global alignment: camera poses (given, or estimated from static tracks), world-frame tracks, and
re-expression of world points in any frame's camera as (x_px, y_px, z_m).

Poses are camera-to-world (t,4,4) here (`T_world_cam`); episodes store world-to-camera extrinsics.
Estimation fixes the world frame to the first camera and registers every later frame to the world
points of the tracks seen so far (3D-3D rigid fit with RANSAC), so moving objects fall out as outliers.
Shapes: n points, k tracks, t frames.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from mu0.trace_extract.keypoints import MOVING_CAMERA_BORDER_PX, inside_border
from mu0.trace_extract.lifting import backproject, sample_depth, to_world
from mu0.trace_extract.tracks import Tracks2D

DEPTH_REL_TOL = 0.03  # depth tests allow this share of the depth on top of an absolute tolerance


class AlignmentError(ValueError):
    """The camera path cannot be recovered (too few static points, or a cut)."""


def poses_from_extrinsics(extrinsics: np.ndarray) -> np.ndarray:
    return np.linalg.inv(extrinsics.astype(np.float64))


def project(xyz_world: np.ndarray, T_world_cam: np.ndarray, K: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels (...,2) and depths (...) of world points (...,3) in one camera (T (4,4), K (3,3))."""
    return project_extrinsic(xyz_world, np.linalg.inv(T_world_cam), K)


def project_extrinsic(xyz_world: np.ndarray, E: np.ndarray, K: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`project` through the world-to-camera (4,4) E = T_world_cam⁻¹."""
    xyz = xyz_world @ E[:3, :3].T + E[:3, 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = K[0, 0] * xyz[..., 0] / xyz[..., 2] + K[0, 2]
        v = K[1, 1] * xyz[..., 1] / xyz[..., 2] + K[1, 2]
    return np.stack([u, v], axis=-1), xyz[..., 2]


@dataclasses.dataclass
class DepthPoseGeometry:
    """The scene as depth maps and camera poses: lifts pixels to world points and projects them back,
    with a depth test for visibility (tracking.SceneGeometry)."""

    depth: np.ndarray  # (t,h,w) metres, 0 = no measurement
    K: np.ndarray  # (t,3,3)
    T_world_cam: np.ndarray  # (t,4,4)
    radius: int = 1
    tol_m: float = 0.02
    seed_edge_px: int = 0  # keypoints keep this far from a depth discontinuity (`seedable`)

    @functools.cached_property
    def _extrinsics(self) -> np.ndarray:
        """(t,4,4) world-to-camera, inverted once: every projection of a frame needs its own."""
        return np.linalg.inv(self.T_world_cam)

    def anchor(self, frame: int, uv_px: np.ndarray) -> np.ndarray:
        return self.to_world(frame, self.camera_points(frame, uv_px))

    def camera_points(self, frame: int, uv_px: np.ndarray) -> np.ndarray:
        z = sample_depth(np.asarray(self.depth[frame], np.float32), uv_px, self.radius, self.tol_m)
        return backproject(uv_px.astype(np.float64), z, self.K[frame])

    def to_world(self, frame: int, xyz_cam: np.ndarray) -> np.ndarray:
        return to_world(xyz_cam, self.T_world_cam[frame])

    def seedable(self, frame: int, rel_jump: float = 0.05) -> np.ndarray:
        """Pixels more than `seed_edge_px` away from a depth discontinuity (0: off it) and, where the camera moves,
        more than `MOVING_CAMERA_BORDER_PX` from the image's border. Inverse depth is affine across a
        plane, so its Laplacian is ~0 on smooth surfaces, even at grazing angles, and large at
        silhouettes; holes (0) count as neither."""
        import cv2

        d = np.asarray(self.depth[frame], np.float32)
        valid = d > 0
        inv = np.where(valid, 1.0 / np.where(valid, d, 1.0), 0.0).astype(np.float32)
        fill = cv2.dilate(inv, np.ones((3, 3), np.uint8))  # holes borrow a neighbour so they make no edge
        inv = np.where(valid, inv, fill)
        lap = np.abs(cv2.Laplacian(inv, cv2.CV_32F, ksize=1))
        edges = (lap > rel_jump * np.maximum(inv, 1e-6)).astype(np.uint8)
        size = 2 * self.seed_edge_px + 1
        near_edge = cv2.dilate(edges, np.ones((size, size), np.uint8)) > 0
        if self.camera_moves():
            return ~near_edge & inside_border(near_edge.shape, MOVING_CAMERA_BORDER_PX)
        return ~near_edge

    def camera_moves(self) -> bool:
        """Whether any frame's camera pose differs from the first's by more than a millimetre or a milliradian."""
        T = np.asarray(self.T_world_cam, np.float64)
        moved, turned = np.abs(T[:, :3, 3] - T[:1, :3, 3]).max(), np.abs(T[:, :3, :3] - T[:1, :3, :3]).max()
        return bool(moved > 1e-3 or turned > 1e-3)

    def surface_normals(self, frame: int) -> np.ndarray:
        """(h,w,3) float32 unit normals of the seen surface in the camera frame, facing the camera (a wall
        square to the view is (0,0,−1)); 0 at and next to holes (no depth). For a pinhole camera the cross
        product of the back-projected surface's derivatives along the image's columns and rows is, up to
        scale, (fx·z_u, fy·z_v, −(z + (u − cx)·z_u + (v − cy)·z_v)) with z_u, z_v the depth's derivatives."""
        import cv2

        d = np.asarray(self.depth[frame], np.float32)
        h, w = d.shape
        K = self.K[frame].astype(np.float32)
        # Sobel's 3×3 kernels weigh the central difference by 8 (2 for the two-pixel step, 4 for smoothing)
        z_u = cv2.Sobel(d, cv2.CV_32F, 1, 0, ksize=3, scale=0.125)
        z_v = cv2.Sobel(d, cv2.CV_32F, 0, 1, ksize=3, scale=0.125)
        fx_zu, fy_zv = K[0, 0] * z_u, K[1, 1] * z_v
        z_n = -(d + (np.arange(w, dtype=np.float32) - K[0, 2])[None, :] * z_u
                + (np.arange(h, dtype=np.float32) - K[1, 2])[:, None] * z_v)
        length = cv2.sqrt(fx_zu * fx_zu + fy_zv * fy_zv + z_n * z_n)
        known = cv2.erode((d > 0).astype(np.uint8), np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE)
        scale = np.divide(known, length, out=np.zeros_like(length), where=length > 0)  # 0 where unknown
        return cv2.merge([fx_zu * scale, fy_zv * scale, z_n * scale])

    def _tol(self, z: np.ndarray) -> np.ndarray:
        """How far two depths near z (metres) may differ and still be one surface."""
        return self.tol_m + DEPTH_REL_TOL * z

    def depth_map(self, frame: int) -> np.ndarray:
        return np.asarray(self.depth[frame], np.float32)

    def stays_in_camera(self, frame: int, later: int, uv_px: np.ndarray) -> np.ndarray:
        """(n,) bool: `later` shows the surface at each (n,2) pixel at the depth `frame` shows there."""
        a = sample_depth(self.depth_map(frame), uv_px, self.radius, self.tol_m)
        b = sample_depth(self.depth_map(later), uv_px, self.radius, self.tol_m)
        with np.errstate(invalid="ignore"):
            return (a > 0) & (np.abs(a - b) <= self._tol(a))

    def _seen_depth(self, frame: int, xyz_world: np.ndarray):
        """Each point's pixel (n,2) and depth (n,) in `frame`, and the depth the frame shows there (NaN outside)."""
        uv, z = project_extrinsic(xyz_world, self._extrinsics[frame], self.K[frame])
        h, w = self.depth.shape[1:]
        with np.errstate(invalid="ignore"):
            cols, rows = np.rint(uv[:, 0]), np.rint(uv[:, 1])
            inside = (z > 0) & (cols >= 0) & (cols <= w - 1) & (rows >= 0) & (rows <= h - 1)
        seen = np.full(len(z), np.nan)
        seen[inside] = sample_depth(np.asarray(self.depth[frame], np.float32), uv[inside], self.radius, self.tol_m)
        return uv, z, seen

    def observe(self, frame: int, xyz_world: np.ndarray, depth_test: bool = True) -> tuple[np.ndarray, np.ndarray]:
        if not depth_test:
            uv, z = project_extrinsic(xyz_world, self._extrinsics[frame], self.K[frame])
            with np.errstate(invalid="ignore"):
                return uv, z > 0
        uv, z, seen = self._seen_depth(frame, xyz_world)
        with np.errstate(invalid="ignore"):
            return uv, np.abs(seen - z) <= self._tol(z)  # NaN outside the image: not visible

    def look(self, frame: int, xyz_world: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """`observe(frame, xyz_world)`, (n,) bool whether the surface seen at each point's projection lies
        farther than the point (by the visibility tolerance): nothing occludes it, it has left that pixel; and
        (n,) how much farther (metres, negative: nearer; NaN outside the image)."""
        uv, z, seen = self._seen_depth(frame, xyz_world)
        with np.errstate(invalid="ignore"):
            return uv, np.abs(seen - z) <= self._tol(z), seen - z > self._tol(z), seen - z


def kabsch(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The rigid (4,4) T minimising Σ‖T·src − dst‖² over (n,3) point pairs."""
    # kept: scipy's Rotation.align_vectors fits the same (max diff 6e-13) but makes estimate_poses 2.4x slower
    cs, cd = src.mean(0), dst.mean(0)
    U, _, Vt = np.linalg.svd((src - cs).T @ (dst - cd))
    D = np.diag([1.0, 1.0, np.sign(np.linalg.det(Vt.T @ U.T))])
    R = Vt.T @ D @ U.T
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = R, cd - R @ cs
    return T


def ransac_rigid(src: np.ndarray, dst: np.ndarray, threshold_m: float, rng: np.random.Generator,
                 iterations: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Robust rigid fit src → dst; returns T and the inlier mask."""
    # kept: cv2.estimateAffine3D is affine (13x our rotation error); sklearn's RANSACRegressor: same fit, 1.5x slower
    best = np.zeros(len(src), bool)
    for _ in range(iterations):
        pick = rng.choice(len(src), 3, replace=False)
        T = kabsch(src[pick], dst[pick])
        inliers = np.linalg.norm(src @ T[:3, :3].T + T[:3, 3] - dst, axis=1) < threshold_m
        if inliers.sum() > best.sum():
            best = inliers
    if best.sum() < 3:
        raise AlignmentError("no rigid motion agrees with 3 or more points")
    T = kabsch(src[best], dst[best])
    inliers = np.linalg.norm(src @ T[:3, :3].T + T[:3, 3] - dst, axis=1) < threshold_m
    return kabsch(src[inliers], dst[inliers]), inliers


def estimate_poses(xyz_cam: np.ndarray, has_depth: np.ndarray, threshold_m: float, min_points: int = 8,
                   seed: int = 0) -> np.ndarray:
    """Camera-to-world poses (t,4,4) from tracks' camera-frame points (k,t,3); world = first camera."""
    k, t = has_depth.shape
    rng = np.random.default_rng(seed)
    poses = np.repeat(np.eye(4)[None], t, axis=0)
    world = np.full((k, 3), np.nan)
    world[has_depth[:, 0]] = xyz_cam[has_depth[:, 0], 0]
    for f in range(1, t):
        pairs = has_depth[:, f] & np.all(np.isfinite(world), axis=1)
        if pairs.sum() < min_points:
            raise AlignmentError(f"frame {f}: only {int(pairs.sum())} tracked points with depth to register "
                                 f"the camera (need {min_points})")
        poses[f], _ = ransac_rigid(xyz_cam[pairs, f], world[pairs], threshold_m, rng)
        new = has_depth[:, f] & ~np.all(np.isfinite(world), axis=1)
        world[new] = to_world(xyz_cam[new, f], poses[f])
    return poses


def find_camera_jump(tracks: Tracks2D, lost_fraction: float, min_alive: int = 20) -> int | None:
    """First frame at which more than `lost_fraction` of the tracked points are lost at once (a cut)."""
    if tracks.lk_lost is not None:
        lost = tracks.lk_lost[1:]
    else:
        alive = tracks.visible[:, :-1].sum(axis=0)
        kept = (tracks.visible[:, :-1] & tracks.visible[:, 1:]).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            lost = np.where(alive >= min_alive, 1.0 - kept / alive, np.nan)
    frames = np.flatnonzero(np.nan_to_num(lost, nan=0.0) > lost_fraction)
    return int(frames[0]) + 1 if len(frames) else None
