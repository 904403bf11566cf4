"""Depth-aware point tracking with rigid templates (`motion: template`), for episodes with depth and camera
poses; without them it hands over to the Lucas–Kanade tracker.

Each point carries the template of its seed frame (template_fit.py) and a pose. Per frame, the pose starts
from the best of four guesses — still in the world, moving on at its last velocity, carried by the camera (a
wrist camera's own gripper), moved by dense optical flow — scored on the frame's colour and depth; a template
the world-still guess already matches is left there (the background, exact and cheap), the others are refined
by Gauss–Newton. The template is matched against its seed frame, not the previous frame, so errors do not add
up while it is seen. Under a moving camera the still pose's cost carries resampling noise, so a refined pose
replaces it only if it halves that cost (`refined_gain`); template points out of view cost little
(TemplateFit.out_of_view). Otherwise background points near the border, and points leaving the view, ride
along with the camera (the wrist camera's table did). A point is visible where the frame's depth at its pixel
agrees with its own. Template points with something in front of them count as hidden, not as mismatched, so an
occluder passing by neither drags a point along nor pushes it away; a point whose template has too few points
coasts on a decaying velocity; in `track` a point ends after `lost_after` unseen frames.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mu0.trace_extract.alignment import DepthPoseGeometry
from mu0.trace_extract.keypoints import coverage_grid
from mu0.trace_extract.template_fit import FrameMaps, TemplateFit, frame_maps, placed
from mu0.trace_extract.template_state import TemplateTrackState
from mu0.trace_extract.tracking import LucasKanadeTracker
from mu0.trace_extract.tracks import Tracks2D

_MIN_TEMPLATE_POINTS = 4  # fewer neighbours with depth than this: nothing to fit, the point only coasts
_COAST_DECAY = 0.8  # an unseen point's velocity shrinks by this factor per frame
_EDGE = 0.05  # a pixel whose colour (0..1) or weighted depth changes this much to a neighbour is an edge
_TEMPLATE_BATCH = 64
_MIN_EDGE_POINTS = 6  # a template core with fewer edge pixels takes in the edges around it


def _edges(maps: FrameMaps, depth_weight: float) -> np.ndarray:
    """(h,w) bool: pixels on either side of a step in colour or (weighted) depth."""
    scale = np.array([1.0, 1.0, 1.0, depth_weight], np.float32)
    step_u = (np.abs(maps.grad_u) * scale).max(axis=-1) > _EDGE  # forward differences: the pixel before
    step_v = (np.abs(maps.grad_v) * scale).max(axis=-1) > _EDGE
    edge = step_u | step_v
    edge[:, 1:] |= step_u[:, :-1]  # and the pixel after
    edge[1:] |= step_v[:-1]
    return edge


def _pixels(maps: FrameMaps, uv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the pixels nearest (n,2) points, clamped to the image."""
    h, w = maps.valid.shape
    uv = np.rint(np.nan_to_num(uv)).astype(np.intp)
    return uv[:, 1].clip(0, h - 1), uv[:, 0].clip(0, w - 1)


class DepthTemplateTracker:
    def __init__(self, fallback: LucasKanadeTracker, fit: TemplateFit, radius_px: int = 5, near_m: float = 0.04,
                 stride_px: int = 1, max_scale: int = 4, still_cost: float = 5e-4, lost_after: int = 10,
                 refined_gain: float = 0.5) -> None:
        self.fallback, self.fit, self.refined_gain = fallback, fit, refined_gain
        self.radius_px, self.near_m, self.stride_px, self.max_scale = radius_px, near_m, stride_px, max_scale
        self.still_cost, self.lost_after = still_cost, lost_after
        steps = np.arange(-radius_px, radius_px + 1)
        self.offsets = steps[steps % stride_px == 0]

    # -- templates ---------------------------------------------------------------------------------------
    def _template(self, maps: FrameMaps, X: np.ndarray, uv: np.ndarray):
        """Offsets from each point (n,m,3), colours (n,m,3) and weights (n,m) of its template: up to m pixels
        within `max_scale` × `radius_px` whose world points lie within `near_m` of the point: the pixels
        within `radius_px` (every `stride_px`-th), then edge pixels, then the rest, nearest first. Where the
        core holds too few edge pixels (a step in colour or depth), it would slide along a flat face unseen:
        there every edge pixel in reach comes first."""
        h, w = maps.valid.shape
        m = len(self.offsets) ** 2
        reach = np.arange(-self.radius_px * self.max_scale, self.radius_px * self.max_scale + 1)
        du, dv = (a.ravel() for a in np.meshgrid(reach, reach))
        ring = np.maximum(np.abs(du), np.abs(dv))
        edge = _edges(maps, self.fit.depth_weight)
        D, colour, weight = np.zeros((len(X), m, 3)), np.zeros((len(X), m, 3)), np.zeros((len(X), m))
        for lo in range(0, len(X), _TEMPLATE_BATCH):  # bounded memory: reach² candidates per point
            sl = slice(lo, lo + _TEMPLATE_BATCH)
            cols = np.rint(np.nan_to_num(uv[sl, :1])).astype(np.intp) + du[None]
            rows = np.rint(np.nan_to_num(uv[sl, 1:])).astype(np.intp) + dv[None]
            inside = (cols >= 0) & (cols < w) & (rows >= 0) & (rows < h)
            cols, rows = cols.clip(0, w - 1), rows.clip(0, h - 1)
            Q = maps.world[rows, cols]
            near = inside & maps.valid[rows, cols] & (np.linalg.norm(Q - X[sl, None], axis=-1) < self.near_m)
            core = (ring <= self.radius_px)[None] & (du % self.stride_px == 0)[None] & (dv % self.stride_px == 0)[None]
            on_edge = near & edge[rows, cols]
            flat = (on_edge & core).sum(axis=1, keepdims=True) < _MIN_EDGE_POINTS  # the core alone cannot pin it
            rank = np.where(near, np.where(flat, 4.0, 1.0) * on_edge + 2.0 * core - ring[None] / (ring.max() + 1.0),
                            -np.inf)
            pick = np.argsort(-rank, axis=1, kind="stable")[:, :m]
            take = np.take_along_axis(near, pick, axis=1)
            rows, cols = np.take_along_axis(rows, pick, axis=1), np.take_along_axis(cols, pick, axis=1)
            D[sl] = np.where(take[..., None], maps.world[rows, cols] - X[sl, None], 0.0)
            colour[sl], weight[sl] = maps.colour[rows, cols], take
        return D, colour, weight

    def _add(self, st: TemplateTrackState, maps: FrameMaps, geometry: DepthPoseGeometry, frame: int, uv: np.ndarray):
        X = geometry.anchor(frame, uv)
        X = np.where(np.isfinite(X), X, maps.world[_pixels(maps, uv)])
        return st.add(frame, uv, X, *self._template(maps, X, uv))

    # -- one frame ---------------------------------------------------------------------------------------
    def _guesses(self, st: TemplateTrackState, ids: np.ndarray, f: int, maps: FrameMaps, flow: np.ndarray,
                 geometry: DepthPoseGeometry):
        """Candidate poses (R, c) for the tracks `ids` at frame f besides staying still: moving on at the last
        velocity, carried by the camera, moved by the optical flow at the point."""
        import cv2

        R, c = st.R[ids], st.c[ids]
        p = np.nan_to_num(st.uv[ids, f - 1]).astype(np.float32)
        moved = p + cv2.remap(flow, p[:, :1], p[:, 1:], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
                              ).reshape(-1, 2)
        at = _pixels(maps, moved)
        h, w = maps.valid.shape
        # the flow is known inside the image only: a point outside would be clamped onto its border
        inside = np.all((moved >= 0) & (moved <= [w - 1, h - 1]) & np.isfinite(st.uv[ids, f - 1]), axis=1)
        flow_c = np.where((maps.valid[at] & inside)[:, None], maps.world[at], c)
        M = geometry.T_world_cam[f] @ np.linalg.inv(geometry.T_world_cam[f - 1])
        return [(R, c + st.vel[ids]), (M[:3, :3] @ R, c @ M[:3, :3].T + M[:3, 3]), (R, flow_c)]

    def _cost(self, st: TemplateTrackState, ids: np.ndarray, R: np.ndarray, c: np.ndarray,
              maps: FrameMaps) -> np.ndarray:
        Y = placed(R, st.D[ids], c)
        return self.fit.cost(maps, Y, st.ref[ids], st.weight[ids])

    def _pose(self, st: TemplateTrackState, ids: np.ndarray, f: int, maps: FrameMaps, flow: np.ndarray,
              geometry: DepthPoseGeometry):
        """The tracks' poses at frame f. A point whose template still matches where it was (cost under
        `still_cost`: the background, up to interpolation under a moving camera) stays there — on weak
        texture another guess can match as well, and taking it would drag background along with the camera.
        The others take the best guess (it must halve the still cost), refined by Gauss–Newton."""
        R, c = st.R[ids].copy(), st.c[ids].copy()
        still = self._cost(st, ids, R, c, maps)
        go = np.flatnonzero(still >= self.still_cost)
        if not len(go):
            return R, c
        best = still[go].copy()
        for gR, gc in self._guesses(st, ids[go], f, maps, flow, geometry):
            cost = self._cost(st, ids[go], gR, gc, maps)
            better = (cost < best) & (cost < 0.5 * still[go])
            R[go[better]], c[go[better]], best[better] = gR[better], gc[better], cost[better]
        gR, gc = self.fit.refine(maps, st.D[ids[go]], st.ref[ids[go]], st.weight[ids[go]], R[go], c[go])
        moved = np.ones(len(go), bool)
        if not np.allclose(geometry.T_world_cam[f], geometry.T_world_cam[f - 1], atol=1e-9):
            # under a moving camera the still pose's cost carries resampling noise (under a static one it
            # is exact): a refined pose must beat it clearly, or Gauss–Newton, sliding on a flat face for
            # gains that are that noise, would drag the background along
            moved = self._cost(st, ids[go], gR, gc, maps) < self.refined_gain * still[go]
        R[go[moved]], c[go[moved]] = gR[moved], gc[moved]
        R[go[~moved]], c[go[~moved]] = st.R[ids[go[~moved]]], st.c[ids[go[~moved]]]
        return R, c

    def _advance(self, st: TemplateTrackState, alive: np.ndarray, f: int, maps: FrameMaps, flow: np.ndarray,
                 geometry: DepthPoseGeometry) -> None:
        fits = st.weight[alive].sum(axis=1) >= _MIN_TEMPLATE_POINTS
        ids, coast = alive[fits], alive[~fits]
        st.c[coast] += st.vel[coast]
        st.vel[coast] *= _COAST_DECAY
        if len(ids):
            R, c = self._pose(st, ids, f, maps, flow, geometry)
            st.vel[ids] = c - st.c[ids]
            st.R[ids], st.c[ids] = R, c
        uv, vis = geometry.observe(f, st.c[alive])
        st.uv[alive, f], st.visible[alive, f] = uv, vis
        st.unseen[alive] = np.where(vis, 0, st.unseen[alive] + 1)
        was = st.visible[alive, f - 1]
        if was.sum() >= 20:  # a cut hides most points at once (alignment.find_camera_jump)
            st.lost[f] = float((was & ~vis).sum() / was.sum())

    # -- the PointTracker protocol ---------------------------------------------------------------------------
    def _frames(self, images: np.ndarray, geometry: DepthPoseGeometry):
        import cv2

        grays = [cv2.cvtColor(np.ascontiguousarray(im), cv2.COLOR_RGB2GRAY) for im in images]
        maps = [frame_maps(images[f], np.asarray(geometry.depth[f]), geometry.K[f], geometry.T_world_cam[f])
                for f in range(len(images))]
        return grays, maps, cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)

    def track(self, images: np.ndarray, geometry: DepthPoseGeometry | None = None) -> Tracks2D:
        if geometry is None:
            return self.fallback.track(images, None)
        grays, maps, dis = self._frames(images, geometry)
        st = TemplateTrackState(len(images), len(self.offsets) ** 2)
        alive = self._seed(st, np.empty(0, np.intp), 0, grays, maps, geometry)
        for f in range(1, len(images)):
            self._advance(st, alive, f, maps[f], dis.calc(grays[f - 1], grays[f], None), geometry)
            alive = alive[st.unseen[alive] <= self.lost_after]
            if f % self.fallback.reseed_every == 0:
                alive = self._seed(st, alive, f, grays, maps, geometry)
        for i in range(st.n):  # an ended track has no position after its last seen frame
            seen = np.flatnonzero(st.visible[i])
            st.uv[i, seen[-1] + 1:] = np.where(st.unseen[i] > self.lost_after, np.nan, st.uv[i, seen[-1] + 1:])
        return st.result()

    def _seed(self, st: TemplateTrackState, alive: np.ndarray, f: int, grays, maps, geometry) -> np.ndarray:
        """New tracks in grid cells no visible track covers, on pixels with depth: textureless ones too."""
        import cv2

        g = self.fallback
        seen = alive[st.visible[alive, f]]
        covered = coverage_grid(st.uv[seen, f], grays[f].shape, g.grid_px)
        # templates see silhouettes, so seeds may sit right next to them (not on the edge pixels themselves)
        allowed = dataclasses.replace(geometry, seed_edge_px=0).seedable(f) & maps[f].valid
        motion = cv2.absdiff(grays[f], grays[f - 1]) > 8 if f else None
        new = g.selector.select(grays[f], covered, motion, g.max_tracks - len(seen), allowed, any_texture=True)
        return np.concatenate([alive, self._add(st, maps[f], geometry, f, new)]) if len(new) else alive

    def track_queries(self, images: np.ndarray, queries: np.ndarray, geometry: DepthPoseGeometry | None = None
                      ) -> Tracks2D:
        """Tracks of given (n,3) (frame, u, v) points, forward from each one's frame; row i is query i. An
        unseen query keeps its coasting position to the end (TAP-Vid predicts every frame)."""
        if geometry is None:
            return self.fallback.track_queries(images, queries, None)
        t = len(images)
        frames = np.asarray(queries[:, 0], np.int64)
        if len(frames) and (frames.min() < 0 or frames.max() >= t):
            raise ValueError(f"query frames must lie in 0..{t - 1}, got {frames.min()}..{frames.max()}")
        grays, maps, dis = self._frames(images, geometry)
        order = np.argsort(frames, kind="stable")
        st, alive = TemplateTrackState(t, len(self.offsets) ** 2), np.empty(0, np.intp)
        for f in range(t):
            if f and len(alive):
                self._advance(st, alive, f, maps[f], dis.calc(grays[f - 1], grays[f], None), geometry)
            now = order[frames[order] == f]
            if len(now):
                alive = np.concatenate([alive, self._add(st, maps[f], geometry, f, np.asarray(queries[now, 1:],
                                                                                              np.float64))])
        tracks, back = st.result(), np.argsort(order)
        return Tracks2D(tracks.uv_px[back], tracks.visible[back], tracks.start[back], tracks.lk_lost)
