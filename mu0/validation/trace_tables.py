"""Tables of a trace dataset for Great Expectations: per sample row, per query frame, per episode.

Per-row properties are computed vectorised over each episode's flat sample arrays (so a million rows
take well under a second); 2D-only episodes (z unknown, stored as -inf) are checked on x and y only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from mu0.episodes import list_episodes
from mu0.episodes import trace_layout as layout
from mu0.episodes.schema import META

_F16_TOL = 0.05  # float16 rounding of pixel coordinates and depths


_F16_EXP = np.uint16(0x7C00)  # float16 exponent bits: all set means inf or NaN
_F16_NEGINF = np.uint16(0xFC00)


_CHUNK_ROWS = 2048  # rows per pass: the temporaries stay in cache instead of streaming through memory


def _window_checks(traj: np.ndarray, valid: np.ndarray, axes: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row: finite wherever valid; exactly -inf wherever not valid (on the first `axes` axes).
    Works on float16 bit patterns in cache-sized chunks: several times faster than float32 math."""
    n = len(traj)
    finite_ok, padding_ok = np.empty(n, bool), np.empty(n, bool)
    for a in range(0, n, _CHUNK_ROWS):
        x = np.asarray(traj[a:a + _CHUNK_ROWS, :, :axes])
        v = np.asarray(valid[a:a + _CHUNK_ROWS])[..., None]
        if x.dtype == np.float16:
            bits = x.view(np.uint16)
            finite, neginf = (bits & _F16_EXP) != _F16_EXP, bits == _F16_NEGINF
        else:
            finite, neginf = np.isfinite(x), np.isneginf(x)
        finite_ok[a:a + _CHUNK_ROWS] = np.all(finite | ~v, axis=(1, 2))
        padding_ok[a:a + _CHUNK_ROWS] = np.all(neginf | v, axis=(1, 2))
    return finite_ok, padding_ok


def episode_rows(path: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    meta = json.loads((path / META).read_text())
    s = layout.read_samples(path)
    h, w = int(meta["height"]), int(meta["width"])
    z_valid = layout.z_valid(meta, path)
    axes = 3 if z_valid else 2
    offsets, frames = np.asarray(s[layout.OFFSETS]), np.asarray(s[layout.FRAME_INDICES])
    counts = np.diff(offsets)
    frame_of_row = np.repeat(frames, counts)
    finite_ok, padding_ok = np.ones(len(frame_of_row), bool), np.ones(len(frame_of_row), bool)
    windows = ((layout.TRAJ, layout.VALID_STEPS), (layout.TRAJ_HISTORY, layout.VALID_STEPS_HISTORY))
    for traj, valid in windows + tuple((layout.RAW_PREFIX + t, layout.RAW_PREFIX + v) for t, v in windows):
        f, p = _window_checks(np.asarray(s[traj]), np.asarray(s[valid]), axes)
        finite_ok &= f
        padding_ok &= p
    kp = np.asarray(s[layout.KEYPOINTS], np.float32)
    now = np.asarray(s[layout.TRAJ][:, 0], np.float32)
    rows = pd.DataFrame({
        "episode_id": path.name, "frame": frame_of_row, "finite_where_valid": finite_ok,
        "neginf_where_invalid": padding_ok,
        # pixel centres are integers, so the image spans [-0.5, w - 0.5] × [-0.5, h - 0.5]
        "keypoint_inside_image": (kp[:, 0] >= -0.5) & (kp[:, 0] <= w - 0.5)
        & (kp[:, 1] >= -0.5) & (kp[:, 1] <= h - 0.5),
        "z_positive": (now[:, 2] > 0) if z_valid else np.ones(len(kp), bool),
        "history_future_agree": np.all(np.abs(np.asarray(s[layout.TRAJ_HISTORY][:, 0, :axes], np.float32)
                                              - now[:, :axes]) <= _F16_TOL * np.maximum(1, np.abs(now[:, :axes])),
                                       axis=1),
    })
    moving = np.add.reduceat(np.asarray(s[layout.IS_MOVING], np.int64), offsets[:-1]) if len(counts) else np.zeros(0)
    captions = json.loads((path / layout.CAPTIONS_FILE).read_text())
    covered = np.zeros(int(meta["num_frames"]), bool)
    for c in captions.get("chunk_texts", []):
        covered[c["start_idx"]: c["end_idx"] + 1] = True
    frames_df = pd.DataFrame({"episode_id": path.name, "frame": frames, "points": counts,
                              "moving_fraction": moving / np.maximum(counts, 1), "caption_covered": covered[frames]})
    texts = [c[f"instruction_{i}"] for c in captions.get("chunk_texts", []) + captions.get("merged_texts", [])
             for i in (1, 2, 3)]
    episode = {"episode_id": path.name, "caption_count": len(texts),
               "captions_nonempty": bool(texts) and all(isinstance(t, str) and t.strip() for t in texts),
               "captions_varied": len(set(texts)) > 1}
    return rows, frames_df, episode


def trace_tables(traces_dir: Path, threads: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The three tables of a trace dataset; episodes are read in threads (numpy releases the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    paths = [p for p in list_episodes(traces_dir) if layout.is_trace_episode(p)]
    with ThreadPoolExecutor(max_workers=threads or os.cpu_count() or 1) as pool:
        parts = list(pool.map(episode_rows, paths))
    rows, frames, episodes = (list(x) for x in zip(*parts, strict=True)) if parts else ([], [], [])
    if not episodes:
        return pd.DataFrame(), pd.DataFrame(), pd.DataFrame()
    return pd.concat(rows, ignore_index=True), pd.concat(frames, ignore_index=True), pd.DataFrame(episodes)
