"""How a static point is found to have moved (the LK tracker's departure checks, tracking.py calls them with its
state): LK over a gap compared with the anchor's projection ("gap", the default), or LK's own frame-to-frame path
("path"); the point's own surface may veto a gap departure, and its pixel's depth may make one. A departure takes
`confirm` checks in a row. Where the camera moves the gap check is off by default (config's
`gap_departures_moving_camera`): the depth and the other checks remain. Shapes: n points.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mu0.trace_extract.lk_state import LKTrackState
from mu0.trace_extract.patches import patch_errors
from mu0.trace_extract.point_tracker import SceneGeometry

# LK from one frame to another: (prev, cur, (n,2) points, (n,2) start guesses, window) → positions, forward–backward
# errors (the tracker's own `_lk`, dense flow's in its subclass)
StepLK = Callable[..., tuple[np.ndarray, np.ndarray]]


class Departures:
    def __init__(self, lk: StepLK, window: tuple[int, int], fb_max: float, static_px: float, check_gap: int,
                 confirm: int, departure_surface: bool, depth_departure_m: float,
                 gap_on_moving_camera: bool = True) -> None:
        self.lk, self.window, self.fb_max, self.static_px = lk, window, fb_max, static_px
        self.check_gap, self.confirm = check_gap, confirm
        self.departure_surface, self.depth_departure_m = departure_surface, depth_departure_m
        self.gap_on_moving_camera = gap_on_moving_camera
        self.gap_check = True

    def begin(self, camera_moves: bool) -> None:
        """A new episode: whether its gap check runs (not on a moving camera unless asked, config's reason)."""
        self.gap_check = self.gap_on_moving_camera or not camera_moves

    def follow_shadows(self, st: LKTrackState, statics: np.ndarray, pred: np.ndarray, seen: np.ndarray, f: int,
                        grays: list[np.ndarray]) -> None:
        """departure="path": LK follows every static point frame to frame from where LK itself had it
        (its shadow), not from the anchor; a shadow `confirm` frames in a row farther than `static_px`
        from the anchor's projection makes the point a moving one, continuing from the shadow. Frame-to-
        frame steps follow fast motion that LK over a gap loses; LK's noise adds up only slowly."""
        # only points seen at both ends: a static point hidden behind the moving arm must not be dragged along
        ok = np.all(np.isfinite(st.shadow[statics]), axis=1) & np.all(np.isfinite(pred), axis=1) \
            & st.visible[statics, f - 1] & seen
        ids = statics[ok]
        if not len(ids):
            st.shadow[statics] = pred
            return
        p1, fb = self.lk(grays[f - 1], grays[f], st.shadow[ids], pred[ok], self.window)
        h, w = grays[f].shape
        inside = (p1[:, 0] >= 0) & (p1[:, 0] <= w - 1) & (p1[:, 1] >= 0) & (p1[:, 1] <= h - 1)
        followed = (fb < self.fb_max) & inside
        departed = followed & (np.linalg.norm(p1 - pred[ok], axis=1) > self.static_px)
        st.strikes[ids] = np.where(departed, st.strikes[ids] + 1, 0)
        st.shadow[ids] = np.where(followed[:, None], p1, pred[ok])  # a lost shadow restarts on the anchor
        st.shadow[statics[~ok]] = pred[~ok]
        switch = st.strikes[ids] >= self.confirm
        st.static[ids[switch]] = False
        st.uv[ids[switch], f], st.visible[ids[switch], f] = p1[switch], True

    def find(self, st: LKTrackState, statics: np.ndarray, pred: np.ndarray, seen: np.ndarray, f: int,
                         grays: list[np.ndarray], geometry: SceneGeometry, offset: np.ndarray) -> None:
        """Static tracks that LK, run from `check_gap` frames back, places away from their anchor's
        projection (and, with `departure_surface`, whose own surface agrees), or whose pixel shows a surface
        more than `depth_departure_m` nearer or farther than their anchor (`offset`), are moving: they lose their
        static status (and keep this frame's LK position, or their pixel where only the depth moved). Without
        `gap_check` (`begin`) only the depth is asked."""
        g = min(self.check_gap, f)
        probe = st.visible[statics, f - g] & seen & np.all(np.isfinite(pred), axis=1)
        if not np.any(probe):
            return
        ids = statics[probe]
        if self.gap_check:
            p_far, fb = self.lk(grays[f - g], grays[f], st.uv[ids, f - g], pred[probe], self.window)
            checked = fb < self.fb_max  # an inconclusive check leaves the point static
            departed = checked & (np.linalg.norm(p_far - pred[probe], axis=1) > self.static_px)
        else:
            p_far, departed = pred[probe], np.zeros(len(ids), bool)
        if self.departure_surface and np.any(departed):
            departed &= ~self._surface_stays(st.uv[ids, f - g], p_far, pred[probe], departed, grays[f - g], grays[f],
                                             geometry.depth_map(f - g))
        if self.depth_departure_m > 0:
            # a surface sliding along itself keeps its colour at the pixel, not its depth
            with np.errstate(invalid="ignore"):
                shifted = ~departed & (np.abs(offset[probe]) > self.depth_departure_m)
            p_far = np.where(shifted[:, None], pred[probe], p_far)
            departed |= shifted
        st.strikes[ids] = np.where(departed, st.strikes[ids] + 1, 0)
        # one bad LK match on weak texture is not motion: it takes `confirm` departures in a row; the
        # point then continues from where LK over the gap found it, not from its stale static position
        switch = st.strikes[ids] >= self.confirm
        st.static[ids[switch]] = False
        h, w = grays[f].shape
        inside = (p_far[:, 0] >= 0) & (p_far[:, 0] <= w - 1) & (p_far[:, 1] >= 0) & (p_far[:, 1] <= h - 1)
        st.uv[ids[switch], f] = np.where(inside[switch, None], p_far[switch], np.nan)
        st.visible[ids[switch], f] = inside[switch]  # outside: it left the image while it was thought static

    @staticmethod
    def _surface_stays(p0: np.ndarray, p_far: np.ndarray, pred: np.ndarray, which: np.ndarray, before: np.ndarray,
                       now: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """(n,) bool, for the points `which`: their own surface's patch (by `depth` of `before`) matches at the
        anchor's projection `pred` at least as well as at LK's `p_far` — the point has not moved."""
        out = np.zeros(len(p0), bool)
        i = np.flatnonzero(which)
        e_far, e_stay = patch_errors(before, p0[i], now, [p_far[i], pred[i]], depth_a=depth)
        out[i] = e_stay <= e_far
        return out
