"""A synthetic scene whose true tracks are known exactly: a textured wall 1.2 m away and a textured box
0.9 m away sliding right at `speed_px` pixels per frame, seen by a static (or panning) pinhole camera."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mu0.episodes import EpisodeData
from mu0.episodes.schema import GT_BODIES, GT_BODY_ID_FRAMES, GT_BODY_IDS

F = 60.0  # focal length, px


def texture(h: int, w: int, seed: int) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(seed)
    noise = rng.random((h // 4 + 1, w // 4 + 1)).astype(np.float32)
    tex = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
    tex = cv2.GaussianBlur(tex, (0, 0), 0.8)
    return np.clip(tex * 255, 0, 255).astype(np.uint8)


def shift_image(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    import cv2

    M = np.array([[1, 0, dx], [0, 1, dy]], np.float32)
    return cv2.warpAffine(img, M, (img.shape[1], img.shape[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def sliding_box_scene(t: int = 30, h: int = 64, w: int = 80, speed_px: float = 0.6, box=(20, 40, 14, 34),
                      episode_id: str = "synthetic-box", depth: bool = True, moving: bool = True,
                      textured_box: bool = True, weak_wall: bool = False) -> EpisodeData:
    """Box rows box[0]:box[1], columns box[2]:box[3] in frame 0; it moves right `speed_px` per frame.
    Without `textured_box` the box is one flat grey (only its silhouette shows its motion); with `weak_wall`
    the wall's texture has a tenth of its contrast (next to the box, the box's texture dominates a window)."""
    wall = texture(h, w, 1) // 10 + 110 if weak_wall else texture(h, w, 1)
    box_tex = texture(h, w, 2) // 2 + 120 if textured_box else np.full((h, w), 230, np.uint8)
    r0, r1, c0, c1 = box
    images = np.zeros((t, h, w, 3), np.uint8)
    depths = np.zeros((t, h, w), np.float32)
    for f in range(t):
        dx = speed_px * f if moving else 0.0
        moved = shift_image(box_tex, dx, 0)
        mask = np.zeros((h, w), np.float32)
        mask[r0:r1, c0:c1] = 1
        mask = shift_image(mask, dx, 0) > 0.5
        gray = np.where(mask, moved, wall)
        images[f] = np.stack([gray, gray // 2 + 40, 255 - gray], axis=-1)
        depths[f] = np.where(mask, 0.9, 1.2)
    K = np.array([[F, 0, (w - 1) / 2], [0, F, (h - 1) / 2], [0, 0, 1]], np.float32)
    meta = {"episode_id": episode_id, "source": "synthetic", "task": "slide-box", "fps": 10.0,
            "instructions": ["slide the box to the right"], "embodiment": "none", "camera": "static",
            "camera_poses": "given"}
    return EpisodeData(meta=meta, images=images, depth=depths if depth else None,
                       intrinsics=np.repeat(K[None], t, 0),
                       extrinsics=np.repeat(np.eye(4, dtype=np.float32)[None], t, 0))


def box_trace_dataset(root, count: int, speed0: float = 0.4, speed_step: float = 0.2, query_stride: int = 2):
    """`count` sliding-box episodes under root/raw, traced into root/traces (future 16, history 8)."""
    from mu0.config import TraceExtractConfig
    from mu0.episodes import write_episode
    from mu0.trace_extract.stage import extract

    for i in range(count):
        write_episode(sliding_box_scene(episode_id=f"box-{i}", speed_px=speed0 + speed_step * i), root / "raw")
    cfg = TraceExtractConfig(future_len=16, history_len=8, query_stride=query_stride, min_coverage=0.2)
    outcomes = extract(root / "raw", root / "traces", root / "q", cfg)
    assert all(o.status == "written" for o in outcomes), outcomes
    return root / "traces"


def lk_tracker(**kw):
    """The LK tracker with the small-scene settings the tests use, overridden by `kw`."""
    from mu0.trace_extract.keypoints import CornerGridSelector
    from mu0.trace_extract.tracking import LucasKanadeTracker

    args = dict(grid_px=4, max_tracks=400, window_px=9, levels=2, fb_max_error_px=0.75, reseed_every=2)
    args.update(kw)
    return LucasKanadeTracker(CornerGridSelector(args["grid_px"], 0.002), **args)


def sliding_box_with_truth(t: int = 20, speed_px: float = 0.8, episode_id: str = "synthetic-box-gt",
                           task: str = "slide-box", source: str = "synthetic") -> EpisodeData:
    """`sliding_box_scene` with the simulator-style ground truth of gt/: the box is body 1, translated
    `speed_px` pixels a frame at its 0.9-m depth (so exactly that in the image); the wall is the world (0)."""
    scene = sliding_box_scene(t=t, speed_px=speed_px, episode_id=episode_id)
    h, w = scene.images.shape[1:3]
    xpos = np.zeros((t, 2, 3))
    xpos[:, 1, 0] = speed_px * np.arange(t) * 0.9 / F
    xquat = np.zeros((t, 2, 4))
    xquat[..., 0] = 1.0
    box = np.abs(scene.depth - 0.9) < 1e-3
    meta = {**scene.meta, "task": task, "source": source}
    gt = {Path(GT_BODIES).name: {"xpos": xpos, "xquat": xquat}, Path(GT_BODY_IDS).name: box.astype(np.int32),
          Path(GT_BODY_ID_FRAMES).name: np.arange(t, dtype=np.int32)}
    return EpisodeData(meta=meta, images=scene.images, depth=scene.depth, intrinsics=scene.intrinsics,
                       extrinsics=scene.extrinsics, gt=gt)


def sliding_dome_scene(t: int = 24, h: int = 64, w: int = 80, speed_px: float = 0.8, centre=(24.0, 32.0),
                       radius_px: float = 12.0) -> EpisodeData:
    """A uniformly coloured dome (a spherical cap, its rim 0.9 m away) in front of a textured wall 1.2 m away,
    sliding right `speed_px` pixels a frame under a static camera: its colour holds no texture, only its
    depth does. The dome's points move exactly `speed_px` a frame in the image. centre = (u, v) in frame 0."""
    wall = texture(h, w, 1)
    v, u = np.mgrid[0:h, 0:w].astype(np.float32)
    metres_per_px = 0.9 / F
    images = np.zeros((t, h, w, 3), np.uint8)
    depths = np.zeros((t, h, w), np.float32)
    for f in range(t):
        r2 = ((u - centre[0] - speed_px * f) ** 2 + (v - centre[1]) ** 2) * metres_per_px ** 2
        inside = r2 < (radius_px * metres_per_px) ** 2
        bulge = np.sqrt(np.clip((radius_px * metres_per_px) ** 2 - r2, 0, None))
        gray = np.where(inside, 200, wall).astype(np.uint8)
        images[f] = np.stack([gray, gray, gray], axis=-1)
        depths[f] = np.where(inside, 0.9 - bulge, 1.2)
    return _static_camera_episode(images, depths, "dome")


def sliding_bar_scene(t: int = 24, h: int = 64, w: int = 80, speed_px: float = 0.8, rows=(26, 38),
                      cap=(44, 60)) -> EpisodeData:
    """A flat bar 0.3 m away, uniformly coloured except for a textured cap (columns `cap` in frame 0) at its right
    end, in front of a textured wall 1.2 m away, sliding right along its own length `speed_px` pixels a frame
    under a static camera; it reaches past the left border. Its uniform stretch slides along itself: in colour,
    depth and orientation every frame looks alike there. Its points move exactly `speed_px` a frame."""
    wall = texture(h, w, 1)
    cap_tex = texture(rows[1] - rows[0], cap[1] - cap[0], 5)
    images = np.zeros((t, h, w, 3), np.uint8)
    depths = np.zeros((t, h, w), np.float32)
    for f in range(t):
        bar = np.full((rows[1] - rows[0], w), 200, np.float32)
        bar[:, cap[0]:cap[1]] = cap_tex
        bar = shift_image(bar, speed_px * f, 0.0)  # the bar's left end lies out of view
        end = cap[1] + speed_px * f  # columns right of its end show the wall
        cols = np.arange(w)[None, :]
        gray = wall.astype(np.float32).copy()
        gray[rows[0]:rows[1]] = np.where(cols < end, bar, wall[rows[0]:rows[1]])
        images[f] = np.clip(gray, 0, 255).astype(np.uint8)[..., None].repeat(3, -1)
        depths[f] = 1.2
        depths[f, rows[0]:rows[1]] = np.where(cols < end, 0.3, 1.2)
    return _static_camera_episode(images, depths, "bar")


def _static_camera_episode(images: np.ndarray, depths: np.ndarray, thing: str) -> EpisodeData:
    """An episode of (t,h,w,3) frames and (t,h,w) depths seen by a static pinhole camera (focal F, centred) at
    the world origin, in which a `thing` slides right."""
    t, h, w = depths.shape
    K = np.array([[F, 0, (w - 1) / 2], [0, F, (h - 1) / 2], [0, 0, 1]], np.float32)
    meta = {"episode_id": f"synthetic-{thing}", "source": "synthetic", "task": f"slide-{thing}", "fps": 10.0,
            "instructions": [f"slide the {thing} to the right"], "embodiment": "none", "camera": "static",
            "camera_poses": "given"}
    return EpisodeData(meta=meta, images=images, depth=depths, intrinsics=np.repeat(K[None], t, 0),
                       extrinsics=np.repeat(np.eye(4, dtype=np.float32)[None], t, 0))
