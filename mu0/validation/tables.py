"""Tables that Great Expectations checks, built from episodes with numpy (one pass per file).

- `raw_table`: one row per raw episode, each column one property (shapes agree, K valid, ...).
- `trace_tables` (trace_tables.py): per sample row, per query frame, and per trace episode.
Every property is computed independently and never raises, so one broken file yields a row with
that property false (and the reason in `read_error`) instead of stopping the validation.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from mu0.episodes import list_episodes
from mu0.episodes import schema as S
from mu0.episodes.hashing import content_hash

# Action bounds per embodiment (inclusive); embodiments not listed are not bounds-checked.
ACTION_BOUNDS = {"sawyer": (-1.0, 1.0)}


def _load(path: Path):
    return np.load(path, mmap_mode="r", allow_pickle=False) if path.suffix == ".npy" else np.load(path)


def _k_ok(K: np.ndarray, h: int, w: int) -> tuple[bool, bool]:
    valid = bool(np.all(np.isfinite(K)) and np.all(K[:, 0, 0] > 0) and np.all(K[:, 1, 1] > 0)
                 and np.allclose(K[:, 2], [0, 0, 1]) and np.allclose(K[:, 0, 1], 0) and np.allclose(K[:, 1, 0], 0))
    with np.errstate(invalid="ignore"):  # judged on its own: a NaN principal point is simply not inside
        inside = bool(np.all((K[:, 0, 2] >= 0) & (K[:, 0, 2] <= w) & (K[:, 1, 2] >= 0) & (K[:, 1, 2] <= h)))
    return valid, inside


def _rigid(T: np.ndarray) -> bool:
    if not np.all(np.isfinite(T)):
        return False
    R = T[:, :3, :3].astype(np.float64)
    ortho = np.abs(R @ np.swapaxes(R, 1, 2) - np.eye(3)).max() < 1e-3
    return bool(ortho and np.allclose(np.linalg.det(R), 1, atol=1e-3) and np.allclose(T[:, 3], [0, 0, 0, 1]))


def raw_row(path: Path) -> dict:
    row: dict = {"episode_id": path.name, "readable": False, "read_error": ""}
    try:
        meta = json.loads((path / S.META).read_text())
        images = _load(path / S.IMAGES)
        with _load(path / S.CAMERAS) as cams:
            K, E, h, w = cams["intrinsics"], cams["extrinsics"], int(cams["height"]), int(cams["width"])
        depth = _load(path / S.DEPTH) if (path / S.DEPTH).exists() else None
        robot = dict(_load(path / S.ROBOT)) if (path / S.ROBOT).exists() else None
    except (OSError, ValueError, KeyError) as exc:
        row["read_error"] = f"{type(exc).__name__}: {exc}"
        return row
    t = images.shape[0]
    lengths = [len(K), len(E)] + ([len(depth)] if depth is not None else []) + \
              ([len(v) for k, v in robot.items() if k in ("actions", "proprio", "success")] if robot else [])
    row.update(readable=True, num_frames=int(t), fps=float(meta.get("fps", np.nan)),
               frames_agree=bool(all(n == t for n in lengths) and meta.get("num_frames") == t),
               images_ok=bool(images.dtype == np.uint8 and images.ndim == 4 and images.shape[1:] == (h, w, 3)),
               extrinsics_rigid=_rigid(np.asarray(E)), instruction_present=any(
                   isinstance(s, str) and s.strip() for s in meta.get("instructions", [])))
    row["K_valid"], row["K_inside_image"] = _k_ok(np.asarray(K, np.float64), h, w)
    if depth is not None:
        d = np.asarray(depth, np.float32)
        good = d[np.isfinite(d) & (d > 0)]
        row.update(depth_finite=bool(np.isfinite(d).all()), depth_nonnegative=bool(np.nan_to_num(d, nan=0).min() >= 0),
                   depth_shape_ok=bool(d.shape == (t, h, w)),
                   depth_min_m=float(good.min()) if good.size else np.nan,
                   depth_max_m=float(good.max()) if good.size else np.nan)
    else:
        row.update(depth_finite=True, depth_nonnegative=True, depth_shape_ok=True, depth_min_m=np.nan,
                   depth_max_m=np.nan)
    lo, hi = ACTION_BOUNDS.get(str(meta.get("embodiment")), (-np.inf, np.inf))
    actions = np.asarray(robot["actions"], np.float64) if robot else np.zeros((0, 1))
    proprio = np.asarray(robot["proprio"], np.float64) if robot else np.zeros((0, 1))
    row.update(actions_finite=bool(np.isfinite(actions).all()), proprio_finite=bool(np.isfinite(proprio).all()),
               actions_in_bounds=bool(np.all((actions >= lo) & (actions <= hi))) if actions.size else True)
    row["hash_ok"] = content_hash(path) == meta.get("content_hash")
    return row


def raw_table(raw_dir: Path) -> pd.DataFrame:
    return pd.DataFrame([raw_row(p) for p in list_episodes(raw_dir)])
