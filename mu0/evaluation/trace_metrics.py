"""Trace-prediction metrics, as the released μ_0 evaluation defines them.

Inputs are anchor-relative positions in (u, v) unit coordinates ([-1, 1] across the image) and z in
metres, with a validity mask; predictions and ground truth share the anchor, so errors are absolute.
Per trajectory: ADE (mean over its valid steps), FDE (at its last valid step), DTW (normalised by
length) and discrete Fréchet over its valid steps; then averaged over trajectories. minADE/minFDE take
the best of several samples per trajectory. Smoothness is the mean norm of second differences.
Every metric is reported on "uv", "depth" and "uvz" (which mixes units; report it beside the others),
or on the channel subsets a caller names. With episode ids per trajectory, ADE/FDE/minADE/minFDE also
get a 95% interval from a cluster bootstrap over episodes (trajectories of one episode are not
independent). Shapes: m trajectories, s samples, h steps, c channels.
"""

from __future__ import annotations

import numpy as np

SUBSETS = {"uvz": slice(0, 3), "uv": slice(0, 2), "depth": slice(2, 3)}


def _dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.norm(a - b, axis=-1)


def ade_fde(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(m,) ADE and FDE per trajectory (NaN for a trajectory with no valid step)."""
    d = _dist(pred, gt)
    n = valid.sum(axis=1)
    ade = np.where(n > 0, (d * valid).sum(axis=1) / np.maximum(n, 1), np.nan)
    last = np.where(n > 0, valid.shape[1] - 1 - np.argmax(valid[:, ::-1], axis=1), 0)
    fde = np.where(n > 0, d[np.arange(len(d)), last], np.nan)
    return ade, fde


def _compress(x: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Move each trajectory's valid steps to the front, in order; (m,h,c) and lengths (m,)."""
    order = np.argsort(~valid, axis=1, kind="stable")
    return np.take_along_axis(x, order[..., None], axis=1), valid.sum(axis=1)


def _pair_dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(t,t,m) distances between every step of a and every step of b, (m,t,c) each; m innermost, so
    the recursions below read one contiguous row of trajectories per cell. Channels are summed in order
    in float64 (float32 inputs: within ~1e-8 of their float32 norm). Built a row of steps at a time: the
    whole (m,t,t,c) difference and its transposed copy cost far more memory traffic than the recursions."""
    at = np.ascontiguousarray(np.moveaxis(a, 0, -1))  # (t,c,m)
    bt = np.ascontiguousarray(np.moveaxis(b, 0, -1))
    out = np.zeros((a.shape[1], b.shape[1], a.shape[0]))
    diff = np.empty(out.shape[1:])
    for i, row in enumerate(out):
        for k in range(a.shape[-1]):
            np.subtract(at[i, k], bt[:, k], out=diff)
            diff *= diff
            row += diff
        np.sqrt(row, out=row)
    return out


def _aligned(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (t,t,m) step distances over each trajectory's valid steps (moved to the front) and their number."""
    a, n = _compress(pred, valid)
    b, _ = _compress(gt, valid)
    return _pair_dist(a, b), n


def _read(table: np.ndarray, n: np.ndarray, lengths, at) -> list[np.ndarray] | np.ndarray:
    """Entries table[at(k), at(k), trajectory] for each trajectory's length k (NaN where k = 0)."""
    m = table.shape[-1]
    out = [np.where(k > 0, at(table, np.arange(m), k), np.nan) for k in ([n] if lengths is None else lengths)]
    return out[0] if lengths is None else out


def _dtw_table(d: np.ndarray) -> np.ndarray:
    t, m = d.shape[0], d.shape[-1]
    cost = np.full((t + 1, t + 1, m), np.inf)
    cost[0, 0] = 0.0
    for i in range(1, t + 1):
        for j in range(1, t + 1):
            cost[i, j] = d[i - 1, j - 1] + np.minimum(np.minimum(cost[i - 1, j], cost[i, j - 1]), cost[i - 1, j - 1])
    return cost


def _frechet_table(d: np.ndarray) -> np.ndarray:
    t, m = d.shape[0], d.shape[-1]
    c = np.zeros((t, t, m))
    c[0, 0] = d[0, 0]
    for k in range(1, t):  # borders are running maxima
        c[0, k] = np.maximum(c[0, k - 1], d[0, k])
        c[k, 0] = np.maximum(c[k - 1, 0], d[k, 0])
    for i in range(1, t):
        for j in range(1, t):
            c[i, j] = np.maximum(d[i, j], np.minimum(np.minimum(c[i - 1, j], c[i, j - 1]), c[i - 1, j - 1]))
    return c


def _dtw_at(cost: np.ndarray, rows: np.ndarray, k: np.ndarray) -> np.ndarray:
    return cost[k, k, rows] / np.maximum(k, 1)


def _frechet_at(c: np.ndarray, rows: np.ndarray, k: np.ndarray) -> np.ndarray:
    last = np.maximum(k - 1, 0)
    return c[last, last, rows]


def dtw(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray, lengths: list[np.ndarray] | None = None):
    """(m,) dynamic time warping cost over each trajectory's valid steps, divided by their number.
    With `lengths` (per horizon, each trajectory's number of valid steps within it) one recursion
    answers every horizon: the compressed steps keep their order, so a horizon's valid steps are a prefix.
    The recursion runs over padded sequences for all trajectories at once; entry (T_v, T_v) depends only
    on the first T_v steps, so padding never leaks in."""
    d, n = _aligned(pred, gt, valid)
    return _read(_dtw_table(d), n, lengths, _dtw_at)


def frechet(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray, lengths: list[np.ndarray] | None = None):
    """(m,) discrete Fréchet distance (Eiter & Mannila) over each trajectory's valid steps (per horizon
    with `lengths`, as in `dtw`)."""
    d, n = _aligned(pred, gt, valid)
    return _read(_frechet_table(d), n, lengths, _frechet_at)


def smoothness(x: np.ndarray, valid: np.ndarray) -> float:
    """Mean ‖x[t+1] − 2x[t] + x[t−1]‖ over interior steps whose three neighbours are valid."""
    ok = valid[:, 2:] & valid[:, 1:-1] & valid[:, :-2]
    second = np.linalg.norm(x[:, 2:] - 2 * x[:, 1:-1] + x[:, :-2], axis=-1)
    return float(second[ok].mean()) if ok.any() else float("nan")


def trace_metrics(samples: np.ndarray, gt: np.ndarray, valid: np.ndarray, horizon: int) -> dict:
    """Metrics of (s,m,h,3) sampled predictions against (m,h,3) ground truth over the first `horizon` steps."""
    return trace_metrics_at(samples, gt, valid, [horizon])[horizon]


def cluster_bootstrap_ci(values: np.ndarray, groups: np.ndarray, draws: int = 1000, seed: int = 0) -> list[float]:
    """95% percentile interval of the mean of `values` (NaNs ignored) when whole groups are resampled."""
    ok = np.isfinite(values)
    ids, inverse = np.unique(groups[ok], return_inverse=True)
    if len(ids) == 0:
        return [float("nan"), float("nan")]
    sums = np.bincount(inverse, weights=values[ok], minlength=len(ids))
    counts = np.bincount(inverse, minlength=len(ids)).astype(float)
    pick = np.random.default_rng(seed).integers(0, len(ids), size=(draws, len(ids)))
    means = sums[pick].sum(axis=1) / np.maximum(counts[pick].sum(axis=1), 1)
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def trace_metrics_at(samples: np.ndarray, gt: np.ndarray, valid: np.ndarray, horizons: list[int],
                     subsets: dict[str, slice] | None = None, groups: np.ndarray | None = None) -> dict:
    """{horizon: metrics} for (s,m,h,c) samples against (m,h,c) ground truth; sample 0 is the one
    scored by ADE/FDE/DTW/Fréchet, the best of all by minADE/minFDE. Trajectories count at a horizon if
    they have a valid step within it. DTW and Fréchet run once for all horizons. NaN channels (say, depth
    of a 2D-only episode) leave that trajectory out of that subset's means."""
    h_max = max(horizons)
    samples, gt, valid = samples[:, :, :h_max], gt[:, :h_max], valid[:, :h_max]
    lengths = [valid[:, :h].sum(axis=1) for h in horizons]
    out = {h: {"trajectories": int((k > 0).sum()), "samples": int(len(samples))} for h, k in zip(horizons, lengths,
                                                                                                  strict=True)}
    for name, sl in (subsets or SUBSETS).items():
        d, n = _aligned(samples[0][..., sl], gt[..., sl], valid)  # shared by DTW and Fréchet
        dtws = _read(_dtw_table(d), n, lengths, _dtw_at)
        frechets = _read(_frechet_table(d), n, lengths, _frechet_at)
        for h, d_h, f_h in zip(horizons, dtws, frechets, strict=True):
            v = valid[:, :h]
            per_sample = [ade_fde(s[:, :h, sl], gt[:, :h, sl], v) for s in samples]
            ade = np.stack([a for a, _ in per_sample])
            fde = np.stack([f for _, f in per_sample])
            m = out[h]
            m[f"ade_{name}"], m[f"fde_{name}"] = _nanmean(ade[0]), _nanmean(fde[0])
            m[f"minade_{name}"], m[f"minfde_{name}"] = _nanmean(_nanmin(ade)), _nanmean(_nanmin(fde))
            m[f"dtw_{name}"], m[f"frechet_{name}"] = _nanmean(d_h), _nanmean(f_h)
            m[f"n_{name}"] = int(np.isfinite(ade[0]).sum())
            if groups is not None:
                for key, per_traj in (("ade", ade[0]), ("fde", fde[0]), ("minade", _nanmin(ade)),
                                      ("minfde", _nanmin(fde))):
                    m[f"{key}_{name}_ci95"] = cluster_bootstrap_ci(per_traj, groups)
    for h in horizons:
        out[h]["smooth_pred"] = smoothness(samples[0][:, :h, :2], valid[:, :h])
        out[h]["smooth_gt"] = smoothness(gt[:, :h, :2], valid[:, :h])
    return out


def _nanmean(x: np.ndarray) -> float:
    return float(np.nanmean(x)) if np.isfinite(x).any() else float("nan")


def _nanmin(x: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(x).any(axis=0), np.nanmin(np.where(np.isfinite(x), x, np.inf), axis=0), np.nan)
