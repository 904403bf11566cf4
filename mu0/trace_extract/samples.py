"""Per-query-frame samples in the released TraceExtract layout (flat arrays, rows of frame i at
offsets[i]:offsets[i+1]).

For query frame t the chosen tracks (visible at t, moving ones first) get their future and history
windows re-expressed in frame t's camera as (x_px, y_px, z_m): frame-aligned (`raw_*`) and arc-length
retargeted. Index 0 of every window is frame t itself; history runs backwards in time.
Shapes: k tracks, t frames, n sample rows, f future steps, p history steps.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mu0.episodes import trace_layout as L
from mu0.trace_extract.alignment import project
from mu0.trace_extract.retarget import arc_length_retarget
from mu0.trace_extract.tracks import Tracks3D


@dataclasses.dataclass(frozen=True)
class SampleSpec:
    query_stride: int
    max_points: int
    future_len: int
    history_len: int
    interval: float
    top_fraction: float


def choose_rows(candidates: np.ndarray, moving: np.ndarray, max_points: int, rng: np.random.Generator) -> np.ndarray:
    """Up to `max_points` of the candidate tracks: every moving one if it fits, then static ones."""
    mov, still = candidates[moving[candidates]], candidates[~moving[candidates]]
    if len(mov) >= max_points:
        return np.sort(rng.choice(mov, max_points, replace=False))
    fill = rng.choice(still, min(len(still), max_points - len(mov)), replace=False)
    return np.sort(np.concatenate([mov, fill])).astype(np.int64)


def _window(t3: Tracks3D, rows: np.ndarray, frames: np.ndarray, T_world_cam_t: np.ndarray, K_t: np.ndarray,
            use_depth: bool) -> tuple[np.ndarray, np.ndarray]:
    """(n,len(frames),3) points of `rows` at `frames` in the query camera, and their validity."""
    n, s = len(rows), len(frames)
    pts = np.full((n, s, 3), -np.inf)
    valid = np.zeros((n, s), bool)
    inside = (frames >= 0) & (frames < t3.has_depth.shape[1])
    fr = frames[inside]
    if use_depth:
        uv, z = project(t3.xyz_world[rows][:, fr], T_world_cam_t, K_t)
        with np.errstate(invalid="ignore"):  # behind the query camera, or beyond float16: not a usable step
            ok = t3.position_known[rows][:, fr] & (z > 1e-6) & np.all(np.abs(uv) < 6e4, axis=-1)
        pts[:, inside] = np.where(ok[..., None], np.concatenate([uv, z[..., None]], axis=-1), -np.inf)
    else:  # 2D-only: image positions as they are, z unknown
        ok = t3.tracks.visible[rows][:, fr]
        uv = t3.tracks.uv_px[rows][:, fr].astype(np.float64)
        pts[:, inside] = np.where(ok[..., None], np.concatenate([uv, np.full(uv.shape[:2] + (1,), -np.inf)], -1),
                                  -np.inf)
    valid[:, inside] = ok
    return pts, valid


def _seen(t3: Tracks3D, rows: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """(n,len(frames)) whether each point is seen at each frame of the window (`visibs`)."""
    seen = np.zeros((len(rows), len(frames)), bool)
    inside = (frames >= 0) & (frames < t3.has_depth.shape[1])
    seen[:, inside] = t3.tracks.visible[rows][:, frames[inside]]
    return seen


def build_samples(t3: Tracks3D, moving: np.ndarray, cluster_ids: np.ndarray, T_world_cam: np.ndarray,
                  K: np.ndarray, hw: tuple[int, int], spec: SampleSpec, use_depth: bool, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    raw = L.RAW_PREFIX  # the frame-aligned twins
    present = t3.has_depth if use_depth else t3.tracks.visible
    parts: dict[str, list[np.ndarray]] = {k: [] for k in (
        L.KEYPOINTS, L.TRACK_IDS, L.CLUSTER_IDS, L.IS_MOVING, L.TRAJ, L.TRAJ_HISTORY, L.VALID_STEPS,
        L.VALID_STEPS_HISTORY, raw + L.TRAJ, raw + L.TRAJ_HISTORY, raw + L.VALID_STEPS, raw + L.VALID_STEPS_HISTORY,
        L.VISIBS)}
    frame_indices, offsets = [], [0]
    for t in range(0, present.shape[1], spec.query_stride):
        rows = choose_rows(np.flatnonzero(present[:, t]), moving, spec.max_points, rng)
        if len(rows) == 0:
            continue
        fut, fut_ok = _window(t3, rows, t + np.arange(spec.future_len), T_world_cam[t], K[t], use_depth)
        hist, hist_ok = _window(t3, rows, t - np.arange(spec.history_len), T_world_cam[t], K[t], use_depth)
        seen = _seen(t3, rows, t + np.arange(spec.future_len))
        traj, traj_ok = arc_length_retarget(fut, fut_ok, hw, spec.interval, spec.top_fraction, spec.future_len)
        th, th_ok = arc_length_retarget(hist, hist_ok, hw, spec.interval, spec.top_fraction, spec.history_len)
        for key, value in ((L.KEYPOINTS, t3.tracks.uv_px[rows, t]), (L.TRACK_IDS, rows),
                           (L.CLUSTER_IDS, cluster_ids[rows]), (L.IS_MOVING, moving[rows]), (L.TRAJ, traj),
                           (L.TRAJ_HISTORY, th), (L.VALID_STEPS, traj_ok), (L.VALID_STEPS_HISTORY, th_ok),
                           (raw + L.TRAJ, fut), (raw + L.TRAJ_HISTORY, hist), (raw + L.VALID_STEPS, fut_ok),
                           (raw + L.VALID_STEPS_HISTORY, hist_ok), (L.VISIBS, seen)):
            parts[key].append(value)
        frame_indices.append(t)
        offsets.append(offsets[-1] + len(rows))
    out = {k: np.concatenate(v) if v else np.empty(0) for k, v in parts.items()}
    for key in (L.TRAJ, L.TRAJ_HISTORY, raw + L.TRAJ, raw + L.TRAJ_HISTORY):
        out[key] = out[key].astype(np.float16)  # -inf survives the cast
    out[L.KEYPOINTS] = out[L.KEYPOINTS].astype(np.float32)
    out[L.TRACK_IDS], out[L.CLUSTER_IDS] = out[L.TRACK_IDS].astype(np.int32), out[L.CLUSTER_IDS].astype(np.int32)
    out[L.FRAME_INDICES] = np.array(frame_indices, np.int32)
    out[L.OFFSETS] = np.array(offsets, np.int64)
    return out
