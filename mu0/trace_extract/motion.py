"""Motion labels, entity grouping and the episode quality filter.

- `is_moving`: a track moves when its world position spans more than a threshold over the episode,
  single-frame depth spikes removed (2D-only episodes: its image motion, after removing the median
  motion of all tracks, does).
- `group_entities`: moving tracks are grouped into rigid entities by motion coherence — two points
  of one rigid body keep their distance — with average-linkage clustering; static tracks are entity 0.
- `coverage`: the share of a 16×16 patch grid covered by visible tracks, averaged over frames.
Shapes: k tracks, t frames.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np

from mu0.trace_extract.tracks import Tracks3D

COVERAGE_GRID = 16  # patches per side, as the released recipe's coverage check


@contextlib.contextmanager
def _nan_ok():
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows are tracks with no known position
        yield


def _span(x: np.ndarray) -> np.ndarray:
    """(k,) diagonal of each track's bounding box over its known positions x (k,t,d)."""
    with _nan_ok():
        lo, hi = np.nanmin(x, axis=1), np.nanmax(x, axis=1)
    return np.nan_to_num(np.linalg.norm(hi - lo, axis=1), nan=0.0)


def _despiked(x: np.ndarray, known: np.ndarray) -> np.ndarray:
    """(k,t,d): each track's known positions in time order, packed to the front, each the median of itself and
    its two known neighbours (the ends keep their own), then NaN; all NaN for tracks with fewer than 3. One
    frame's depth read off the far side of an edge is not motion; motion lasts."""
    k, t = known.shape
    order = np.argsort(~known, axis=1, kind="stable")  # each track's known frames first, in time order
    packed = np.take_along_axis(x, order[..., None], axis=1)
    n = known.sum(axis=1)[:, None]
    j = np.arange(t)[None]
    prev = np.take_along_axis(packed, np.clip(j - 1, 0, None).repeat(k, 0)[..., None], axis=1)
    after = np.take_along_axis(packed, np.minimum(j + 1, np.maximum(n - 1, 0))[..., None], axis=1)
    lo, hi = np.minimum(prev, packed), np.maximum(prev, packed)
    median = np.maximum(lo, np.minimum(hi, after))
    return np.where(((j < n) & (n >= 3))[..., None], median, np.nan)


def is_moving(t3: Tracks3D, threshold_m: float, threshold_px: float, use_depth: bool) -> np.ndarray:
    if use_depth:
        # tracks with fewer than 3 depth readings cannot tell a spike from motion: they count as static
        return _span(_despiked(t3.xyz_world, t3.has_depth)) > threshold_m
    uv = np.where(t3.tracks.visible[..., None], t3.tracks.uv_px, np.nan).astype(np.float64)
    with _nan_ok():
        step = np.diff(uv, axis=1)
        common = np.nanmedian(step, axis=0)  # the image motion all tracks share (camera motion)
    rel = np.nancumsum(np.nan_to_num(step - common, nan=0.0), axis=1)
    return np.nan_to_num(np.abs(rel).max(axis=(1, 2)), nan=0.0) > threshold_px


def _rigidity(xyz_a: np.ndarray, ok_a: np.ndarray, xyz_b: np.ndarray, ok_b: np.ndarray, min_common: int,
              unknown: float) -> np.ndarray:
    """(a,b) std over shared frames of the distance between track pairs (≈0 for two points of one
    rigid body); `unknown` where two tracks share fewer than `min_common` frames."""
    a, b = np.nan_to_num(xyz_a.astype(np.float32)), np.nan_to_num(xyz_b.astype(np.float32))
    # coordinate by coordinate and in place: no (a,b,t,3) temporaries, no sums over a 3-long axis
    d = np.zeros((len(a), len(b), a.shape[1]), np.float32)
    for c in range(3):
        step = a[:, None, :, c] - b[None, :, :, c]
        step *= step
        d += step
    np.sqrt(d, out=d)
    both = ok_a[:, None, :] & ok_b[None, :, :]
    n = both.sum(axis=2)
    d *= both
    mean = d.sum(axis=2) / np.maximum(n, 1)
    dev = d - mean[..., None]
    dev *= dev
    dev *= both
    var = dev.sum(axis=2) / np.maximum(n, 1)
    return np.where(n >= min_common, np.sqrt(var), unknown)


def group_entities(t3: Tracks3D, moving: np.ndarray, tolerance_m: float = 0.02, min_common: int = 5,
                   max_reps: int = 80, min_size: int = 3) -> np.ndarray:
    """(k,) int32 entity ids: 0 for static tracks, 1.. for rigid groups of moving ones, largest first.

    The longest-lived moving tracks (at most `max_reps`) are clustered (average linkage on rigidity);
    groups of fewer than `min_size` are dissolved, and every other moving track joins the group of the
    representative it is most rigidly attached to (or, sharing no frames, the nearest one in space)."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    ids = np.zeros(len(moving), np.int32)
    idx = np.flatnonzero(moving)
    if len(idx) == 0:
        return ids
    life = t3.has_depth[idx].sum(axis=1)
    reps = idx[np.argsort(-life, kind="stable")[:max_reps]]
    xyz, ok = t3.xyz_world, t3.has_depth
    if len(reps) == 1:
        labels = np.ones(1, int)
    else:
        dist = _rigidity(xyz[reps], ok[reps], xyz[reps], ok[reps], min_common, 4 * tolerance_m)
        np.fill_diagonal(dist, 0.0)
        dist = np.maximum(dist, dist.T)
        labels = fcluster(linkage(squareform(dist, checks=False), "average"), t=tolerance_m, criterion="distance")
    sizes = np.bincount(labels)
    keep = sizes[labels] >= min_size if len(reps) >= min_size else np.ones(len(reps), bool)
    reps, labels = reps[keep], labels[keep]
    rank = {lab: i + 1 for i, lab in enumerate(sorted(set(labels), key=lambda lab: -sizes[lab]))}
    rep_ids = np.array([rank[lab] for lab in labels], np.int32)
    for chunk in np.array_split(idx, max(1, len(idx) // 64)):
        r = _rigidity(xyz[chunk], ok[chunk], xyz[reps], ok[reps], min_common, np.inf)
        best = np.argmin(r, axis=1)
        lone = ~np.isfinite(r[np.arange(len(chunk)), best])
        if np.any(lone):  # no shared frames with any representative: nearest in space instead
            first = _first_positions(xyz[chunk[lone]], ok[chunk[lone]])
            rep_pos = _first_positions(xyz[reps], ok[reps])
            best[lone] = np.argmin(np.linalg.norm(first[:, None] - rep_pos[None], axis=2), axis=1)
        ids[chunk] = rep_ids[best]
    return ids


def _first_positions(xyz: np.ndarray, ok: np.ndarray) -> np.ndarray:
    return xyz[np.arange(len(xyz)), np.argmax(ok, axis=1)]


def coverage(t3: Tracks3D, hw: tuple[int, int]) -> float:
    """Mean over frames of the share of 16×16 grid patches that hold a visible track."""
    h, w = hw
    vis = t3.tracks.visible
    uv = t3.tracks.uv_px
    shares = []
    for f in range(vis.shape[1]):
        pts = uv[vis[:, f], f]
        cells = np.zeros((COVERAGE_GRID, COVERAGE_GRID), bool)
        r = np.clip((pts[:, 1] * COVERAGE_GRID / h).astype(int), 0, COVERAGE_GRID - 1)
        c = np.clip((pts[:, 0] * COVERAGE_GRID / w).astype(int), 0, COVERAGE_GRID - 1)
        cells[r, c] = True
        shares.append(cells.mean())
    return float(np.mean(shares)) if shares else 0.0
