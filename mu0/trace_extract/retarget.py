"""Frame-aligned windows and arc-length (speed) retargeting, as the released TraceExtract does it.

For a query frame, `raw` windows hold the points of frames t, t+1, ... (future) and t, t-1, ...
(history, time-reversed) expressed in frame t's camera as (x_px, y_px, z_m). Retargeting resamples
the future so that one step is `interval` of path length: per segment the robust length is the mean
of the fastest `top_fraction` of the tracks' normalised image-plane step lengths, and every track is
interpolated at the same (segment, alpha), so all tracks stay synchronous. Unused steps are -inf with
valid = False. Shapes: n points, s steps.
"""

from __future__ import annotations

import numpy as np


def robust_segment_lengths(xy_norm: np.ndarray, valid: np.ndarray, top_fraction: float) -> np.ndarray:
    """(s-1,) robust length of each segment from (n,s,2) normalised positions and (n,s) validity;
    NaN for a segment no track covers."""
    with np.errstate(invalid="ignore"):
        steps = np.linalg.norm(np.diff(xy_norm, axis=1), axis=2)  # (n,s-1), NaN next to -inf padding
    ok = valid[:, 1:] & valid[:, :-1] & np.isfinite(steps)
    steps = np.where(ok, steps, -np.inf)
    n_ok = ok.sum(axis=0)
    top = np.sort(steps, axis=0)[::-1]  # descending; invalid (-inf) sink to the bottom
    k = np.maximum(1, np.ceil(top_fraction * n_ok).astype(np.int64))  # never more than the segment's valid steps
    with np.errstate(invalid="ignore"):  # sums running into the -inf padding are never read
        sums = np.cumsum(top, axis=0)[np.minimum(k, len(top)) - 1, np.arange(top.shape[1])] if len(top) else 0.0
    return np.where(n_ok > 0, sums / k, np.nan)


def arc_length_retarget(points: np.ndarray, valid: np.ndarray, hw: tuple[int, int], interval: float,
                        top_fraction: float, out_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Resample (n,s,3) points (index 0 = the query frame) to `out_len` steps of equal robust path length."""
    n = points.shape[0]
    out = np.full((n, out_len, 3), -np.inf, np.float32)
    out_valid = np.zeros((n, out_len), bool)
    if n == 0 or points.shape[1] == 0:
        return out, out_valid
    h, w = hw
    xy = points[..., :2] / np.array([w, h], np.float64)
    seg = robust_segment_lengths(xy, valid, top_fraction)
    gaps = np.flatnonzero(np.isnan(seg))
    seg = seg[: gaps[0]] if len(gaps) else seg  # the path ends at the first segment no track covers
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    targets = np.arange(out_len) * interval
    targets = targets[targets <= cum[-1] + 1e-12]
    # target j lies on the first segment that reaches it: index 0 is always the query frame itself,
    # and pauses (zero-length segments) are stepped over rather than landed in
    reach = np.searchsorted(cum, targets, side="left")
    k = np.maximum(reach - 1, 0)
    k_next = np.minimum(reach, len(cum) - 1)
    span = cum[k_next] - cum[k]
    alpha = np.where(span > 0, (targets - cum[k]) / np.where(span > 0, span, 1.0), 0.0)
    p0, p1 = points[:, k], points[:, k_next]
    with np.errstate(invalid="ignore"):  # -inf padding meets -inf: masked out just below
        interp = p0 + alpha[None, :, None] * (p1 - p0)
    interp = np.where(np.isneginf(p0) & np.isneginf(p1), -np.inf, interp)  # an unknown axis (2D-only z) stays -inf
    ok = valid[:, k] & np.where(alpha[None, :] > 0, valid[:, k_next], True)
    m = len(targets)
    out[:, :m] = np.where(ok[..., None], interp, -np.inf)
    out_valid[:, :m] = ok
    return out, out_valid
