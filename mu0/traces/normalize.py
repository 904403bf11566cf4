"""Normalisation of traces: image coordinates to [-1, 1], future deltas scaled per axis.

The released recipe scales anchor-relative future deltas (u, v in [-1, 1] units, z in metres) by
the 95th percentile of their absolute values over the training set, so targets are mostly within
[-1, 1]; history stays anchor-relative without scaling. The statistics travel with the model.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np


def to_unit_uv(xy_px: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Pixel (x, y) → [-1, 1] by the image size (pixel centres at integers: x = -0.5 ↦ -1)."""
    h, w = hw
    return np.stack([(xy_px[..., 0] + 0.5) * 2.0 / w - 1.0, (xy_px[..., 1] + 0.5) * 2.0 / h - 1.0], axis=-1)


@dataclasses.dataclass(frozen=True)
class DeltaStats:
    scale: tuple[float, float, float]  # per-axis divisor of future deltas (u, v unit coordinates; z metres)
    percentile: float
    horizon: int
    samples: int
    rows: str = "all"  # rows the percentile was taken over: "moving" or "all"
    history_scaled: bool = False  # the model reads history divided by `scale` too

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def load(cls, path: Path) -> DeltaStats:
        d = json.loads(Path(path).read_text())
        return cls(tuple(d["scale"]), d["percentile"], d["horizon"], d["samples"],  # type: ignore[arg-type]
                   d.get("rows", "all"), bool(d.get("history_scaled", False)))

    def history_unit(self) -> np.ndarray:
        """(3,) what the model's history input is divided by (ones when history is not scaled)."""
        return np.asarray(self.scale if self.history_scaled else (1.0, 1.0, 1.0), np.float32)


def unit_deltas(traj: np.ndarray, valid: np.ndarray, hw: tuple[int, int],
                horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """(n,f,3) float16 windows → (n,horizon,3) anchor-relative deltas in (unit u, unit v, metres) and validity."""
    t = np.asarray(traj[:, : horizon + 1], np.float32)
    ok = np.asarray(valid[:, 1: horizon + 1], bool) & np.asarray(valid[:, :1], bool)
    uv = to_unit_uv(t[..., :2], hw)
    z = t[..., 2]
    with np.errstate(invalid="ignore"):
        d = np.concatenate([uv[:, 1:] - uv[:, :1], (z[:, 1:] - z[:, :1])[..., None]], axis=-1)
    ok &= np.all(np.isfinite(d[..., :2]), axis=-1)
    return np.where(ok[..., None], d, 0.0), ok


def compute_delta_stats(windows: list[tuple], horizon: int, percentile: float = 95.0, rows: str = "all",
                        history_scaled: bool = False) -> DeltaStats:
    """From (traj, valid_steps, (h, w), is_moving) of the training episodes (is_moving may be None:
    every row counts); `rows="moving"` takes the percentile over moving rows only, falling back to all
    rows when none moves. An axis with no finite data scales by 1."""
    parts, moving_parts = [], []
    for traj, valid, hw, *moving in windows:
        d, ok = unit_deltas(traj, valid, hw, horizon)
        parts.append(np.abs(d[ok]))
        mov = np.asarray(moving[0], bool) if moving and moving[0] is not None else np.ones(len(d), bool)
        moving_parts.append(np.broadcast_to(mov[:, None], ok.shape)[ok])
    all_d = np.concatenate(parts) if parts else np.zeros((0, 3))
    is_mov = np.concatenate(moving_parts) if moving_parts else np.zeros(0, bool)
    used = all_d[is_mov] if rows == "moving" and is_mov.any() else all_d
    scale = []
    for axis in range(3):
        values = used[:, axis][np.isfinite(used[:, axis])]
        q = float(np.percentile(values, percentile)) if values.size else 1.0
        scale.append(q if q > 1e-8 else 1.0)
    return DeltaStats(tuple(scale), percentile, horizon, int(len(used)), rows, history_scaled)  # type: ignore[arg-type]
