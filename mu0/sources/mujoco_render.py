"""Offscreen RGB-D (and body-id) rendering of a MuJoCo scene with per-frame pinhole cameras.

One render pass gives both colour and depth (`mujoco.Renderer` renders twice for that), and
shadows, reflections and multisampling are off: together several times faster on a CPU (see
benchmarks/bench_metaworld.py). Cameras come out in OpenCV convention: x right, y down, z forward;
extrinsics are world-to-camera; pixel centres are at integer coordinates.
"""

from __future__ import annotations

import os

import numpy as np


def ensure_gl_backend() -> None:
    """MuJoCo picks its GL backend from MUJOCO_GL at import; headless machines need egl or osmesa."""
    os.environ.setdefault("MUJOCO_GL", "egl")
    os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])


SHOWN_SITE_GROUP = 5  # the last of MuJoCo's six site groups, where drawn markers go


class RgbdRenderer:
    """Renders one MuJoCo model at a fixed size; create one per process and reuse it."""

    def __init__(self, model, height: int, width: int, sites: tuple[str, ...] = ()) -> None:  # model: mujoco.MjModel
        """`sites`: the named sites drawn (markers; every other site stays hidden). They are moved to a site
        group of their own, a visual-only property of this model."""
        ensure_gl_backend()
        import mujoco

        self._mj = mujoco
        self.model = model
        self.height, self.width = height, width
        model.vis.global_.offwidth = max(model.vis.global_.offwidth, width)
        model.vis.global_.offheight = max(model.vis.global_.offheight, height)
        model.vis.quality.offsamples = 0  # no multisampling: exact depth edges and faster
        self._gl = mujoco.GLContext(width, height)
        self._gl.make_current()
        self._con = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_150)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._con)
        self._con.readDepthMap = mujoco.mjtDepthMap.mjDEPTH_ZEROFAR  # the depth map the constants below undo
        self._scene = mujoco.MjvScene(model, maxgeom=10_000)
        self._scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
        self._scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0
        self._opt = mujoco.MjvOption()
        self._opt.sitegroup[:] = 0  # goal markers and debug sites are not part of the scene a camera sees
        for name in sites:
            site = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, name)
            if site < 0:
                raise ValueError(f"the scene has no site '{name}' to draw")
            model.site_group[site] = SHOWN_SITE_GROUP
        if sites:
            self._opt.sitegroup[SHOWN_SITE_GROUP] = 1
        self._pert = mujoco.MjvPerturb()
        self._rect = mujoco.MjrRect(0, 0, width, height)
        self._rgb = np.empty((height, width, 3), np.uint8)
        self._zbuf = np.empty((height, width), np.float32)
        extent = model.stat.extent
        near = np.float32(model.vis.map.znear * extent)
        far = np.float32(model.vis.map.zfar * extent)
        # Reverse-Z perspective constants, as mujoco.Renderer derives them, to undo the projection.
        c = -(far + near) / (far - near)
        d = -(np.float32(2) * far * near) / (far - near)
        self._c_coef = np.float64(np.float32(-0.5) * c - np.float32(0.5))
        self._d_coef = np.float64(np.float32(-0.5) * d)

    def _update(self, data, camera) -> None:
        self._gl.make_current()
        self._mj.mjv_updateScene(self.model, data, self._opt, self._pert, camera,
                                 self._mj.mjtCatBit.mjCAT_ALL, self._scene)

    def render_rgbd(self, data, camera, max_depth_m: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
        """RGB (h,w,3) uint8 and metric z-depth (h,w) float32 in metres from a single render pass.
        Depth beyond `max_depth_m` (the skybox, which is drawn as a distant shell) becomes 0, the
        layout's "no measurement", as a depth sensor would report it."""
        self._update(data, camera)
        self._mj.mjr_render(self._rect, self._scene, self._con)
        self._mj.mjr_readPixels(self._rgb, self._zbuf, self._rect, self._con)
        depth = (self._d_coef / (self._zbuf.astype(np.float64) + self._c_coef)).astype(np.float32)
        depth[depth > max_depth_m] = 0.0
        return np.flipud(self._rgb).copy(), np.flipud(depth)

    def render_body_ids(self, data, camera) -> np.ndarray:
        """(h,w) int32: the MuJoCo body id seen at each pixel, -1 where no body geometry is seen."""
        mj = self._mj
        self._update(data, camera)
        flags = self._scene.flags
        flags[mj.mjtRndFlag.mjRND_SEGMENT] = 1
        flags[mj.mjtRndFlag.mjRND_IDCOLOR] = 1
        try:
            mj.mjr_render(self._rect, self._scene, self._con)
            mj.mjr_readPixels(self._rgb, None, self._rect, self._con)
        finally:
            flags[mj.mjtRndFlag.mjRND_SEGMENT] = 0
            flags[mj.mjtRndFlag.mjRND_IDCOLOR] = 0
        rgb = np.flipud(self._rgb).astype(np.int64)
        segid = rgb[..., 0] + (rgb[..., 1] << 8) + (rgb[..., 2] << 16)  # 0 = background, else geom segid + 1
        lut = np.full(self._scene.ngeom + 2, -1, np.int32)
        for g in self._scene.geoms[: self._scene.ngeom]:
            if g.segid >= 0 and g.objtype == mj.mjtObj.mjOBJ_GEOM:
                lut[g.segid + 1] = self.model.geom_bodyid[g.objid]
        return lut[np.clip(segid, 0, len(lut) - 1)]

    def camera_matrices(self) -> tuple[np.ndarray, np.ndarray]:
        """K (3,3) and world-to-camera T (4,4) of the camera used by the last render."""
        # A mono render draws from the average of the scene's two eye cameras, which sit ±ipd/2 (3.4 cm in
        # Meta-World) to either side: one eye alone would shift every projected point sideways (5 px at 128 px).
        cam = self._mj.mjv_averageCamera(self._scene.camera[0], self._scene.camera[1])
        if cam.orthographic or abs(cam.frustum_center) > 1e-9 or abs(cam.frustum_top + cam.frustum_bottom) > 1e-9:
            raise ValueError("only symmetric perspective cameras are supported")
        f = 0.5 * self.height * cam.frustum_near / cam.frustum_top  # square pixels: fx = fy
        K = np.array([[f, 0.0, (self.width - 1) / 2], [0.0, f, (self.height - 1) / 2], [0.0, 0.0, 1.0]])
        forward = np.asarray(cam.forward, np.float64)
        up = np.asarray(cam.up, np.float64)
        z = forward / np.linalg.norm(forward)
        y = -(up - z * (up @ z))
        y /= np.linalg.norm(y)
        x = np.cross(y, z)
        R_cam_world = np.stack([x, y, z])  # rows: camera axes in world coordinates
        T = np.eye(4)
        T[:3, :3] = R_cam_world
        T[:3, 3] = -R_cam_world @ np.asarray(cam.pos, np.float64)
        return K, T

    def close(self) -> None:
        if self._con is not None:
            self._con.free()
            self._con = None
        if self._gl is not None:
            self._gl.free()
            self._gl = None

    def __enter__(self) -> RgbdRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
