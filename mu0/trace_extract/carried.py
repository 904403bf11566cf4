"""Points the moving camera carries along: the gripper, and what it holds, in the wrist view.

A world anchor is the right model of a point only if the point stays put in the world. On a wrist camera
the gripper's pads move with the camera and stay where they are in the image, while their anchors'
projections slide off them; a pad then never passes the static check, is seen nowhere, and is lost.
So a new point is tested once, at the first frame from `LOOK_AHEAD` frames on where the two hypotheses part
(checked every `LOOK_STEP` frames; a camera that pauses parts them later): there a world-static point shows at
its anchor's projection, a carried one at its own pixel with its own depth. A carried point is a moving one from the
start, and it stays on its pixel unless LK finds a better match elsewhere (a textureless pad gives LK no
hold of its own; LK's coarse levels see the background slide past). Shapes: n points.
"""

from __future__ import annotations

import numpy as np

from mu0.trace_extract.lifting import sample_depth
from mu0.trace_extract.patches import patch_errors
from mu0.trace_extract.point_tracker import SceneGeometry

# Chosen on the tuning tasks' wrist camera (gripper given queries' δ_avg 0.049 without the test): 0.217 / 0.278 /
# 0.294 / 0.291 looking 3 / 6 / 10 / 16 frames ahead (a 4-level margin, any unseen projection counting against the
# world hypothesis); a 2-level margin at 6 frames 0.281.
LOOK_AHEAD = 10
LOOK_STEP = 5
MARGIN_GREY = 4.0


def _parting_frames(uv: np.ndarray, anchor: np.ndarray, frame: int, n_frames: int, geometry: SceneGeometry,
                    static_px: float, shape: tuple[int, int]) -> np.ndarray:
    """(n,) the first frame, from `LOOK_AHEAD` on in steps of `LOOK_STEP`, where each point's anchor projects
    more than `static_px` from its pixel or out of the image; the last one looked at where none does."""
    h, w = shape
    frames = list(range(frame + LOOK_AHEAD, n_frames, LOOK_STEP)) or [n_frames - 1]
    out = np.full(len(uv), frames[-1])
    todo = np.arange(len(uv))
    for later in frames:
        pred = geometry.observe(later, anchor[todo], depth_test=False)[0]
        with np.errstate(invalid="ignore"):
            inside = (pred[:, 0] >= 0) & (pred[:, 0] <= w - 1) & (pred[:, 1] >= 0) & (pred[:, 1] <= h - 1)
            apart = ~inside | (np.linalg.norm(pred - uv[todo], axis=1) > static_px)
        out[todo[apart]] = later
        todo = todo[~apart]
        if not len(todo):
            break
    return out


def carried_from_start(uv: np.ndarray, anchor: np.ndarray, frame: int, grays: list[np.ndarray],
                       geometry: SceneGeometry, static_px: float, near_m: float,
                       world_fit_grey: float = np.inf) -> np.ndarray:
    """(n,) bool: which of the points just seeded at (n,2) pixels of `frame` (world anchors (n,3)) the camera
    carries, each judged at its parting frame (`_parting_frames`, `_judged_carried`)."""
    if frame >= len(grays) - 1:
        return np.zeros(len(uv), bool)
    depth = geometry.depth_map(frame)
    parting = _parting_frames(uv, anchor, frame, len(grays), geometry, static_px, depth.shape)
    out = np.zeros(len(uv), bool)
    for later in np.unique(parting):
        group = parting == later
        out[group] = _judged_carried(uv[group], anchor[group], frame, int(later), grays, geometry, depth, static_px,
                                     near_m, world_fit_grey)
    return out


def _judged_carried(uv: np.ndarray, anchor: np.ndarray, frame: int, later: int, grays: list[np.ndarray],
                    geometry: SceneGeometry, depth: np.ndarray, static_px: float, near_m: float,
                    world_fit_grey: float) -> np.ndarray:
    """Where the two hypotheses part by more than `static_px` at `later`, the world one is judged by its patch
    if its projection shows the point's depth or a surface behind it (one in front only hides it), and counts
    as refuted if it leaves the image from a point nearer than `near_m` (only the gripper is that near a
    moving camera; a farther point near the border may just leave the view). Carried: the point's own pixel
    keeps its depth and its patch matches by `MARGIN_GREY` better than the world hypothesis does; or the point
    lies nearer than `near_m` and the world hypothesis does not match by `MARGIN_GREY` better than its own pixel
    (the fingers may have moved off that pixel by then; nothing static comes that near), or does not match within
    `world_fit_grey` at all (the fingers closing: the point is neither where the world nor where the camera would
    have it, and moves with its part, carried_parts.py)."""
    h, w = depth.shape
    pred, seen, behind, _ = geometry.look(later, anchor)
    with np.errstate(invalid="ignore"):
        inside = (pred[:, 0] >= 0) & (pred[:, 0] <= w - 1) & (pred[:, 1] >= 0) & (pred[:, 1] <= h - 1)
        apart = ~inside | (np.linalg.norm(pred - uv, axis=1) > static_px)
        near = sample_depth(depth, uv, 0, 0.0) < near_m
    judged = inside & (seen | behind)
    e_world, e_own = patch_errors(grays[frame], uv, grays[later], [pred, uv], depth_a=depth)
    e_world = np.where(judged, e_world, np.nan)
    e_world[~inside & near] = np.inf
    e_carried = np.where(geometry.stays_in_camera(frame, later, uv), e_own, np.inf)
    with np.errstate(invalid="ignore"):
        carried = apart & np.isfinite(e_carried) & (e_carried + MARGIN_GREY < e_world)
        # nearer than near_m only the gripper comes: unless the world hypothesis clearly wins, it moves with the
        # camera even where its own pixel changed (fingers closing)
        return carried | (apart & near & (~(e_world + MARGIN_GREY < e_own) | ~(e_world <= world_fit_grey)))


def stay_if_carried(prev: np.ndarray, cur: np.ndarray, p0: np.ndarray, p1: np.ndarray, ok: np.ndarray,
                    carried: np.ndarray, depth: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """LK's step (p0 → p1, `ok`) with the carried points kept where they were unless LK's new place matches
    their patch (its pixels on the point's surface, by `depth` of `prev`) better than staying does."""
    ids = np.flatnonzero(carried)
    if not len(ids):
        return p1, ok
    e_lk, e_stay = patch_errors(prev, p0[ids], cur, [p1[ids], p0[ids]], depth_a=depth)
    e_lk = np.where(ok[ids], e_lk, np.inf)
    stay = ids[e_stay <= e_lk]
    p1, ok = p1.copy(), ok.copy()
    p1[stay], ok[stay] = p0[stay], True
    return p1, ok
