"""Points moved by their neighbours on the same rigid part.

Every moving part in these scenes (a link, a finger pad, an object) is rigid, so points a few centimetres apart
on one part move alike. A static point on a uniformly coloured stretch that slides along itself (an arm link
turning) gives LK's departure check nothing to see: the anchor's projection still shows the same colour at the
same depth. The moving points that were near it when it was anchored say where the part went since. Static
points near it vote against: a table point next to a pushed object must stay. Shapes: n points, k donors (points
known to move), m still points (static and seen), t frames.
"""

from __future__ import annotations

import numpy as np


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
