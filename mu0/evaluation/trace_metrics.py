"""Trace-prediction metrics, as the released μ_0 evaluation defines them.

Inputs are anchor-relative positions in (u, v) unit coordinates ([-1, 1] across the image) and z in
metres, with a validity mask; predictions and ground truth share the anchor, so errors are absolute.
Per trajectory: ADE (mean over its valid steps), FDE (at its last valid step), DTW (normalised by
length) and discrete Fréchet over its valid steps; then averaged over trajectories. minADE/minFDE take
the best of several samples per trajectory. Smoothness is the mean norm of second differences.
Every metric is reported on "uv", "depth" and "uvz" (which mixes units; report it beside the others).
Shapes: m trajectories, s samples, h steps.
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


def dtw(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(m,) dynamic time warping cost over each trajectory's valid steps, divided by their number.
    The recursion runs over padded sequences for all trajectories at once; entry (T_v, T_v) depends only
    on the first T_v steps, so padding never leaks in."""
    a, n = _compress(pred, valid)
    b, _ = _compress(gt, valid)
    m, t = a.shape[:2]
    d = _dist(a[:, :, None], b[:, None, :])  # (m,t,t)
    cost = np.full((m, t + 1, t + 1), np.inf)
    cost[:, 0, 0] = 0.0
    for i in range(1, t + 1):
        for j in range(1, t + 1):
            best = np.minimum(np.minimum(cost[:, i - 1, j], cost[:, i, j - 1]), cost[:, i - 1, j - 1])
            cost[:, i, j] = d[:, i - 1, j - 1] + best
    return np.where(n > 0, cost[np.arange(m), n, n] / np.maximum(n, 1), np.nan)


def frechet(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(m,) discrete Fréchet distance (Eiter & Mannila) over each trajectory's valid steps."""
    a, n = _compress(pred, valid)
    b, _ = _compress(gt, valid)
    m, t = a.shape[:2]
    d = _dist(a[:, :, None], b[:, None, :])
    c = np.zeros((m, t, t))
    for i in range(t):
        for j in range(t):
            if i == 0 and j == 0:
                c[:, 0, 0] = d[:, 0, 0]
            elif i == 0:
                c[:, 0, j] = np.maximum(c[:, 0, j - 1], d[:, 0, j])
            elif j == 0:
                c[:, i, 0] = np.maximum(c[:, i - 1, 0], d[:, i, 0])
            else:
                prev = np.minimum(np.minimum(c[:, i - 1, j], c[:, i, j - 1]), c[:, i - 1, j - 1])
                c[:, i, j] = np.maximum(d[:, i, j], prev)
    last = np.maximum(n - 1, 0)
    return np.where(n > 0, c[np.arange(m), last, last], np.nan)


def smoothness(x: np.ndarray, valid: np.ndarray) -> float:
    """Mean ‖x[t+1] − 2x[t] + x[t−1]‖ over interior steps whose three neighbours are valid."""
    ok = valid[:, 2:] & valid[:, 1:-1] & valid[:, :-2]
    second = np.linalg.norm(x[:, 2:] - 2 * x[:, 1:-1] + x[:, :-2], axis=-1)
    return float(second[ok].mean()) if ok.any() else float("nan")


def trace_metrics(samples: np.ndarray, gt: np.ndarray, valid: np.ndarray, horizon: int) -> dict:
    """Metrics of (s,m,h,3) sampled predictions against (m,h,3) ground truth over the first `horizon`
    steps; sample 0 is the one scored by ADE/FDE/DTW/Fréchet, the best of all by minADE/minFDE."""
    samples, gt, valid = samples[:, :, :horizon], gt[:, :horizon], valid[:, :horizon]
    keep = valid.any(axis=1)
    samples, gt, valid = samples[:, keep], gt[keep], valid[keep]
    out: dict = {"trajectories": int(keep.sum()), "samples": int(len(samples))}
    for name, sl in SUBSETS.items():
        per_sample = [ade_fde(s[..., sl], gt[..., sl], valid) for s in samples]
        ade = np.stack([a for a, _ in per_sample])
        fde = np.stack([f for _, f in per_sample])
        out[f"ade_{name}"], out[f"fde_{name}"] = float(np.nanmean(ade[0])), float(np.nanmean(fde[0]))
        out[f"minade_{name}"] = float(np.nanmean(np.nanmin(ade, axis=0)))
        out[f"minfde_{name}"] = float(np.nanmean(np.nanmin(fde, axis=0)))
        out[f"dtw_{name}"] = float(np.nanmean(dtw(samples[0][..., sl], gt[..., sl], valid))) if len(gt) else np.nan
        out[f"frechet_{name}"] = float(np.nanmean(frechet(samples[0][..., sl], gt[..., sl], valid))) \
            if len(gt) else np.nan
    out["smooth_pred"] = smoothness(samples[0], valid)
    out["smooth_gt"] = smoothness(gt, valid)
    return out
