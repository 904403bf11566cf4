"""Fitting a rigid 3D template to one frame: the colour-and-depth residuals of template points placed in
the world, and Gauss–Newton over the template's rotation and translation.

A template is a point's neighbourhood at the frame it was seeded in: the pixels around it whose world
points lie within a few centimetres of it (so a thin part next to a wall takes none of the wall), with
their colours. Placed at pose (R, c) its points are Y = R·D + c (D: offsets from the point), projected
into a frame; the residuals are the frame's colour minus the template's, and its depth minus the points'
depth. Every body in a simulated scene is rigid, so the whole neighbourhood moves as one: a textureless
finger pad is pinned by its silhouette against the background in colour and depth where a 2D window
tracker has nothing to hold. Shapes: n templates, m points per template.
"""

from __future__ import annotations

import dataclasses

import numpy as np

_REMAP_COLS = 4096
# residual of a hidden template point: a small price, so that hiding a template is not free, yet far less
# than a mismatch (an occluder passing in front must not push a point away)
_HIDDEN = 0.05


@dataclasses.dataclass
class FrameMaps:
    """One frame as the fit sees it."""

    image: np.ndarray  # (h,w,4) float32: colour in [0,1] (3 channels) and depth in metres (0 = none)
    grad_u: np.ndarray  # (h,w,4) its forward differences along u and v
    grad_v: np.ndarray
    world: np.ndarray  # (h,w,3) world point seen at each pixel (meaningless where depth is 0)
    K: np.ndarray  # (3,3)
    world_to_cam: np.ndarray  # (4,4)

    @property
    def valid(self) -> np.ndarray:
        return self.image[..., 3] > 0

    @property
    def colour(self) -> np.ndarray:
        return self.image[..., :3]

    @property
    def depth(self) -> np.ndarray:
        return self.image[..., 3]


def frame_maps(image: np.ndarray, depth: np.ndarray, K: np.ndarray, T_world_cam: np.ndarray) -> FrameMaps:

    h, w = depth.shape
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    z = depth.astype(np.float64)
    cam = np.stack([(u - K[0, 2]) * z / K[0, 0], (v - K[1, 2]) * z / K[1, 1], z], axis=-1)
    world = cam @ T_world_cam[:3, :3].T + T_world_cam[:3, 3]
    stacked = np.concatenate([image.astype(np.float32) / 255.0, depth.astype(np.float32)[..., None]], axis=-1)
    # forward differences: sampled at the point's cell they give the bilinear surface's exact slopes
    grad_u = np.zeros_like(stacked)
    grad_u[:, :-1] = stacked[:, 1:] - stacked[:, :-1]
    grad_v = np.zeros_like(stacked)
    grad_v[:-1] = stacked[1:] - stacked[:-1]
    return FrameMaps(stacked, grad_u, grad_v, world, K, np.linalg.inv(T_world_cam))


def project(maps: FrameMaps, Y: np.ndarray):
    """Pixels u, v, depths z (...) and camera coordinates (...,3) of world points Y (...,3)."""
    E, K = maps.world_to_cam, maps.K
    cam = Y @ E[:3, :3].T + E[:3, 3]
    z = cam[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = K[0, 0] * cam[..., 0] / z + K[0, 2]
        v = K[1, 1] * cam[..., 1] / z + K[1, 2]
    return u, v, z, cam


def in_view(maps: FrameMaps, u: np.ndarray, v: np.ndarray, z: np.ndarray) -> np.ndarray:
    h, w = maps.valid.shape
    with np.errstate(invalid="ignore"):
        return (u >= 0) & (u <= w - 1) & (v >= 0) & (v <= h - 1) & (z > 0)


def sample(img: np.ndarray, u: np.ndarray, v: np.ndarray, dtype: type = np.float64) -> np.ndarray:
    """(h,w,4) float32 image at float pixels u, v (...): bilinear values (...,4), edge pixels repeated."""
    import cv2

    shape, n = u.shape, u.size
    rows = -(-n // _REMAP_COLS)  # OpenCV's remap takes maps under 32767 columns: fold the points into rows
    maps = []
    for x in (u, v):
        flat = np.full(rows * _REMAP_COLS, -1.0, np.float32)
        flat[:n] = np.nan_to_num(x, nan=-1.0, posinf=-1.0, neginf=-1.0).ravel()
        maps.append(flat.reshape(rows, _REMAP_COLS))
    out = cv2.remap(img, maps[0], maps[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(-1, img.shape[-1])[:n].reshape(*shape, img.shape[-1]).astype(dtype, copy=False)


def placed(R: np.ndarray, D: np.ndarray, c: np.ndarray) -> np.ndarray:
    """(n,m,3) template points R·D + c of n templates (R (n,3,3), D (n,m,3), c (n,3)); a batched matmul,
    several times faster than the equivalent einsum."""
    return D @ R.transpose(0, 2, 1) + c[:, None]


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a × b over the last axis (3), broadcasting; written out, it is faster than np.cross on small axes."""
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    return np.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)


def rotations(w: np.ndarray) -> np.ndarray:
    """(n,3,3) rotation matrices of (n,3) rotation vectors (Rodrigues)."""
    from scipy.spatial.transform import Rotation

    return Rotation.from_rotvec(w).as_matrix().reshape(-1, 3, 3)


@dataclasses.dataclass
class TemplateFit:
    depth_weight: float = 10.0  # residual units per metre of depth error (colour is in [0,1] per channel)
    huber: float = 0.1  # residuals above this count linearly (occlusions, specular changes)
    iters: int = 8
    max_step_px: float = 2.0  # the most one iteration moves a point, in pixels at its depth
    hidden_m: float = 0.02  # a surface this much (plus 3% of the depth) in front of a template point hides it
    converged_px: float = 0.01  # a template whose last step moved it less than this (pixels) stops iterating
    # residual of a template point projected out of the image: low, for a point truly leaving a moving
    # camera's view must not be paid to stay in it (riding along with the camera), yet not free, or the
    # wrist camera's own gripper pads are left behind as the camera moves. Wrist camera, tuning tasks, from
    # 1.0: 0.15 doubles `is_moving` precision (0.16 → 0.35) at −0.01 δ_avg; 0.05 gives 0.67 at −0.05.
    out_of_view: float = 0.15

    def residuals(self, maps: FrameMaps, Y: np.ndarray, ref: np.ndarray, jacobian: bool = False):
        """(n,m,4) residuals of template points Y (n,m,3) with colours ref (n,m,3), whether each lands in
        the image, and with `jacobian` their derivatives (n,m,4,3) with respect to Y."""
        u, v, z, cam = project(maps, Y)
        seen = sample(maps.image, u, v)
        r = np.concatenate([seen[..., :3] - ref, self.depth_weight * (seen[..., 3:] - z[..., None])], axis=-1)
        ok = in_view(maps, u, v, z) & np.all(np.isfinite(r), axis=-1)
        # something in front of a template point (or a depth hole) hides it: no evidence either way
        with np.errstate(invalid="ignore"):
            hidden = ok & (seen[..., 3] < z - (self.hidden_m + 0.03 * z))
        r = np.where(ok[..., None], r, self.out_of_view)
        r[hidden] = _HIDDEN
        ok &= ~hidden
        if not jacobian:
            return r, ok
        # the Jacobian in float32: it only sets the step's direction, and is built faster so
        K, R = maps.K.astype(np.float32), maps.world_to_cam[:3, :3].astype(np.float32)
        z, cam = z.astype(np.float32), cam.astype(np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):
            zero = np.zeros_like(z)
            du_cam = np.stack([K[0, 0] / z, zero, -K[0, 0] * cam[..., 0] / z ** 2], axis=-1)
            dv_cam = np.stack([zero, K[1, 1] / z, -K[1, 1] * cam[..., 1] / z ** 2], axis=-1)
        du_Y, dv_Y = du_cam @ R, dv_cam @ R
        with np.errstate(invalid="ignore"):
            gu = sample(maps.grad_u, np.floor(u), v, np.float32)
            gv = sample(maps.grad_v, u, np.floor(v), np.float32)
        J = gu[..., None] * du_Y[..., None, :] + gv[..., None] * dv_Y[..., None, :]  # (n,m,4,3)
        J[..., 3, :] = np.float32(self.depth_weight) * (J[..., 3, :] - R[2])
        bad = ok & ~np.all(np.isfinite(J), axis=(-1, -2))
        r[bad] = self.out_of_view
        return r, ok & ~bad, np.where((ok & ~bad)[..., None, None], J, np.float32(0.0))

    def cost(self, maps: FrameMaps, Y: np.ndarray, ref: np.ndarray, weight: np.ndarray) -> np.ndarray:
        """(n,) mean robust cost over each template's points (weight (n,m): 1 for template points)."""
        r, _ = self.residuals(maps, Y, ref)
        a, c = np.abs(r), self.huber
        rho = np.where(a < c, 0.5 * a ** 2, c * (a - 0.5 * c)).sum(axis=-1)
        return (rho * weight).sum(axis=-1) / np.maximum(weight.sum(axis=-1), 1e-12)

    def refine(self, maps: FrameMaps, D: np.ndarray, ref: np.ndarray, weight: np.ndarray, R: np.ndarray,
               c: np.ndarray):
        """Gauss–Newton (Huber-reweighted) over each template's pose: R (n,3,3) and c (n,3) refined so that
        R·D + c fits the frame."""
        eye = np.eye(6)
        R, c, out_R, out_c = R.copy(), c.copy(), R.copy(), c.copy()
        rows = np.arange(len(c))  # the templates still moving
        for _ in range(self.iters):
            if not len(rows):
                break
            Y = placed(R, D, c)
            r, ok, J = self.residuals(maps, Y, ref, jacobian=True)
            a = np.abs(r)
            W = ((weight * ok)[..., None] * np.where(a < self.huber, 1.0, self.huber / np.maximum(a, 1e-12))
                 ).astype(np.float32)
            # a small rotation w moves a point by w × (Y − c): d r / d w = (Y − c) × (d r / d Y)
            J6 = np.concatenate([J, _cross((Y - c[:, None]).astype(np.float32)[..., None, :], J)], axis=-1)
            norm = np.maximum((weight * ok).sum(axis=-1), 1e-12)[:, None]
            n = len(c)
            WJ = (W[..., None] * J6).reshape(n, -1, 6)
            H = (WJ.transpose(0, 2, 1) @ J6.reshape(n, -1, 6)).astype(np.float64) / norm[..., None]
            g = (WJ.transpose(0, 2, 1) @ r.astype(np.float32).reshape(n, -1, 1))[..., 0].astype(np.float64) / norm
            # a flat direction (a textureless face sliding along itself) gets a tiny step, not a wild one
            H = H + (1e-3 * np.diagonal(H, axis1=1, axis2=2).mean(axis=1) + 1e-12)[:, None, None] * eye
            step = -np.linalg.solve(H, g[..., None])[..., 0]
            dt, dw = step[:, :3], step[:, 3:]
            z = np.abs(project(maps, c)[2])
            limit = self.max_step_px * np.nan_to_num(z, nan=1.0) / maps.K[0, 0]
            dt = dt * np.minimum(1.0, limit / np.maximum(np.linalg.norm(dt, axis=1), 1e-12))[:, None]
            dw = dw * np.minimum(1.0, 0.1 / np.maximum(np.linalg.norm(dw, axis=1), 1e-12))[:, None]
            c, R = c + dt, rotations(dw) @ R
            out_R[rows], out_c[rows] = R, c
            # converged: the step moved the point (and a point 2 cm off it) by under `converged_px`
            shift = np.linalg.norm(dt, axis=1) + 0.02 * np.linalg.norm(dw, axis=1)
            go = shift > self.converged_px * limit / self.max_step_px
            R, c, D, ref, weight, rows = R[go], c[go], D[go], ref[go], weight[go], rows[go]
        return out_R, out_c
