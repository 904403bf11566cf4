"""Points moved by their neighbours on the same rigid part.

Every moving part in these scenes (a link, a finger pad, an object) is rigid, so points a few centimetres apart
on one part move alike. A static point on a uniformly coloured stretch that slides along itself (an arm link
turning) gives LK's departure check nothing to see: the anchor's projection still shows the same colour at the
same depth. The moving points that were near it when it was anchored say where the part went since. Static
points near it vote against: a table point next to a pushed object must stay. The same vote places a moving point
that LK lost for a few frames, until it is seen again (`carry_lost`). Shapes: n points, k donors (points
known to move), m still points (static and seen), t frames.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mu0.trace_extract.lk_state import LKTrackState
from mu0.trace_extract.patches import patch_errors, patch_errors_grouped
from mu0.trace_extract.point_tracker import SceneGeometry

# a point moves with its part where its patch fits there no worse than this (grey levels) than where LK or its
# anchor has it: on a uniform stretch both fit alike, to interpolation's fraction of a level (tuning tasks, wrist
# δ_avg 0.418 → 0.424 with the relocalisation's own margin, front 0.582 either way)
NEIGHBOUR_PATCH_SLACK = 1.0
# a place the neighbours give within this many pixels of LK's is LK's own (not worth a patch comparison)
NEIGHBOUR_SAME_PX = 0.3


class NeighbourMotion:
    """The LK tracker's steps that move points with their part (tracking.py calls them with its state)."""

    def __init__(self, lk_image: Callable[[np.ndarray], np.ndarray], radius_m: float, min_moving: int,
                 moving_share: float, static_px: float) -> None:
        self.lk_image, self.radius_m, self.min_moving = lk_image, radius_m, min_moving
        self.moving_share, self.static_px = moving_share, static_px

    def follow(self, st: LKTrackState, ids: np.ndarray, p1: np.ndarray, ok: np.ndarray, f: int,
               grays: list[np.ndarray], geometry: SceneGeometry) -> tuple[np.ndarray, np.ndarray]:
        """The moving tracks among `ids`, moved on by the moving points near them that LK followed from f − 1
        to `p1` (`shift_since`, with the same votes as `depart`) where the depth test sees them there: the ones
        LK lost (`ok` false), and the ones whose own patch fits there no worse than at LK's place (on a uniform
        stretch LK converges where it started, as if the part stood still)."""
        moving = np.flatnonzero(~st.static[ids] & ~st.carried[ids])
        donors = moving[ok[moving]]
        if len(donors) < self.min_moving:
            return p1, ok
        before = st.anchor[ids[moving]]  # moving points are re-anchored every frame: where each was at f − 1
        # static points seen at f − 1 vote against, as for departures: a point that departed wrongly next to a
        # moving part (the table beside a pushed object) is not dragged along by it
        calm = st.anchor[np.flatnonzero(st.static[:st.n] & st.visible[:st.n, f - 1])]
        shift = shift_since(before, np.zeros(len(moving), int), st.xyz[ids[donors], f - 1:f],
                            geometry.anchor(f, p1[donors]), self.radius_m, self.min_moving, calm,
                            np.ones((len(calm), 1), bool), self.moving_share)
        has = np.flatnonzero(np.all(np.isfinite(shift), axis=1))
        if not len(has):
            return p1, ok
        uv, seen = geometry.observe(f, before[has] + shift[has])
        rows = moving[has]
        take = seen & ~ok[rows]
        ask = np.flatnonzero(seen & ok[rows] & (np.linalg.norm(uv - p1[rows], axis=1) > NEIGHBOUR_SAME_PX))
        if len(ask):
            e_nb, e_lk = patch_errors(self.lk_image(grays[f - 1]), st.uv[ids[rows[ask]], f - 1],
                                      self.lk_image(grays[f]), [uv[ask], p1[rows[ask]]],
                                      depth_a=geometry.depth_map(f - 1))
            take[ask] = e_nb <= e_lk + NEIGHBOUR_PATCH_SLACK
        p1, ok = p1.copy(), ok.copy()
        p1[rows[take]], ok[rows[take]] = uv[take], True
        return p1, ok

    def depart(self, st: LKTrackState, alive: np.ndarray, statics: np.ndarray, pred: np.ndarray, seen: np.ndarray,
               f: int, grays: list[np.ndarray], geometry: SceneGeometry) -> np.ndarray:
        """Static points (`statics`, their anchors' projections `pred` and depth tests `seen` at f) whose part has
        moved on by more than `static_px` since each was anchored, by the moving points near it then
        (`shift_since`), become moving points where the part put them: there the depth test sees them and
        their own patch (of their start frame) fits no worse than at the anchor's projection. Returns their
        ids."""
        still = st.static[statics] & seen  # seen now, not departed by the gap check just now
        cand = np.flatnonzero(still & st.visible[statics, f - 1])
        donors = alive[~st.static[alive] & ~st.carried[alive] & st.visible[alive, f]]
        if not len(cand) or len(donors) < self.min_moving:
            return np.zeros(0, int)
        ids, calm = statics[cand], statics[still]
        shift = shift_since(st.anchor[ids], st.start[ids], st.xyz[donors], st.anchor[donors], self.radius_m,
                            self.min_moving, st.anchor[calm], st.visible[calm], self.moving_share)
        has = np.flatnonzero(np.all(np.isfinite(shift), axis=1))
        if not len(has):
            return np.zeros(0, int)
        uv, vis = geometry.observe(f, st.anchor[ids[has]] + shift[has])
        stay = pred[cand[has]]
        moved = vis & (np.linalg.norm(uv - stay, axis=1) > self.static_px)
        if not moved.any():
            return np.zeros(0, int)
        ids, uv, stay = ids[has[moved]], uv[moved], stay[moved]
        order = np.argsort(st.start[ids], kind="stable")  # patches grouped by the frame each point started in
        ids, uv, stay = ids[order], uv[order], stay[order]
        sources = [(self.lk_image(grays[s]), st.uv[ids[st.start[ids] == s], s], geometry.depth_map(s))
                   for s in np.unique(st.start[ids])]
        e_part, e_stay = patch_errors_grouped(sources, self.lk_image(grays[f]), [uv, stay])
        go = e_part <= e_stay + NEIGHBOUR_PATCH_SLACK
        st.static[ids[go]] = False
        st.uv[ids[go], f], st.visible[ids[go], f] = uv[go], True
        return ids[go]


    def carry_lost(self, st: LKTrackState, lost: np.ndarray, alive: np.ndarray, f: int, geometry: SceneGeometry,
                   max_frames: int) -> np.ndarray:
        """Moving tracks `lost` (not seen at f) go where the moving points near them when they were last seen
        have carried their part since (`shift_since`): seen again where the depth test sees them there (they
        rejoin, re-anchored), kept unseen at that place otherwise. Returns those still kept: lost for at most
        `max_frames` frames (a link that LK loses for a few frames is found again instead of its points ending)."""
        if not len(lost):
            return lost
        last = f - 1 - np.argmax(st.visible[lost, f - 1::-1], axis=1)  # the frame each was last seen in
        lost = lost[f - last <= max_frames]
        donors = alive[~st.static[alive] & ~st.carried[alive] & st.visible[alive, f]]
        if not len(lost) or len(donors) < self.min_moving:
            return lost
        last = f - 1 - np.argmax(st.visible[lost, f - 1::-1], axis=1)
        calm = alive[st.static[alive] & st.visible[alive, f]]
        shift = shift_since(st.anchor[lost], last, st.xyz[donors], st.xyz[donors, f], self.radius_m,
                            self.min_moving, st.anchor[calm], st.visible[calm], self.moving_share)
        has = np.flatnonzero(np.all(np.isfinite(shift), axis=1))
        if len(has):
            uv, seen = geometry.observe(f, st.anchor[lost[has]] + shift[has])
            st.uv[lost[has], f] = uv
            back = lost[has[seen]]
            st.visible[back, f] = True
            st.anchor[back] = geometry.anchor(f, uv[seen])
            st.xyz[back, f] = st.anchor[back]
        return lost

def shift_since(points: np.ndarray, ref: np.ndarray, history: np.ndarray, now: np.ndarray, radius_m: float,
                min_moving: int, still: np.ndarray, still_seen: np.ndarray, moving_share: float) -> np.ndarray:
    """(n,3) how far the part under each of the (n,3) world `points` (as they were at frames `ref` (n,)) has
    moved since: the median of now − then over the donors (world positions `history` (k,t,3), NaN where unknown;
    `now` (k,3)) that lay within `radius_m` of the point at its `ref` frame. NaN where fewer than `min_moving`
    donors lay there, or they are fewer than `moving_share` of them and the `still` points (m,3) seen there at
    that frame (`still_seen` (m,t)). The median: a donor that slid onto the background reads the wrong depth."""
    out = np.full(points.shape, np.nan)
    reach = _within_box(points, history, radius_m)  # most points lie nowhere near a moving part: skip them early
    if not len(reach) or not len(now):
        return out
    then = history[:, ref[reach]].transpose(1, 0, 2)  # (r,k,3): each donor where it was at each point's frame
    with np.errstate(invalid="ignore"):
        near = _squared_distance(then, points[reach, None]) <= radius_m ** 2  # NaN compares False
    near &= np.all(np.isfinite(now), axis=1)[None]
    moving = near.sum(axis=1)
    keep = moving >= min_moving
    reach, then, near, moving = reach[keep], then[keep], near[keep], moving[keep]
    rows = np.arange(len(reach))
    if len(rows) and len(still):  # the still points' votes, only where enough donors came near
        calm = (_squared_distance(still[None], points[reach, None]) <= radius_m ** 2) & still_seen[:, ref[reach]].T
        rows = rows[moving >= moving_share * (moving + calm.sum(axis=1))]
    if len(rows):
        out[reach[rows]] = _masked_median(now[None] - then[rows], near[rows])
    return out


def _within_box(points: np.ndarray, history: np.ndarray, radius_m: float) -> np.ndarray:
    """Indices of the finite (n,3) points within `radius_m` of the box around every known donor position."""
    known = history[np.all(np.isfinite(history), axis=-1)]
    if not len(known):
        return np.zeros(0, int)
    lo, hi = known.min(axis=0) - radius_m, known.max(axis=0) + radius_m
    with np.errstate(invalid="ignore"):
        return np.flatnonzero(np.all((points >= lo) & (points <= hi), axis=1))


def _squared_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared distances of broadcast (...,3) points; three products, cheaper than a norm over the last axis."""
    return (a[..., 0] - b[..., 0]) ** 2 + (a[..., 1] - b[..., 1]) ** 2 + (a[..., 2] - b[..., 2]) ** 2


def _masked_median(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(r,3) per-row median of (r,k,3) `values` over the k entries `mask` (r,k) keeps (at least one per row):
    the kept ones sorted first (the rest as +inf), then the middle one or two (np.nanmedian, without its cost)."""
    ordered = np.sort(np.where(mask[..., None], values, np.inf), axis=1)
    count = mask.sum(axis=1)
    rows = np.arange(len(values))
    return (ordered[rows, (count - 1) // 2] + ordered[rows, count // 2]) / 2
