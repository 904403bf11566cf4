"""Distribution drift of a trace dataset against the last accepted one.

Three statistics, sampled over all sample rows: trace length (valid retargeted steps), speed
(frame-aligned image-plane step, in image widths per frame) and depth of the query points. The
accepted dataset's 10/50/90th percentiles are stored beside it (`_validation/accepted_stats.json`);
a new dataset drifts when a percentile leaves its tolerance band (a Great Expectations quantile check).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from mu0.episodes import list_episodes
from mu0.episodes import trace_layout as layout
from mu0.episodes.schema import META
from mu0.validation.gx_runner import Check

QUANTILES = [0.1, 0.5, 0.9]
STATS_FILE = "_validation/accepted_stats.json"
SLACK = {"length": 1.0, "speed": 1e-4, "depth": 0.02}  # absolute slack per statistic (steps, widths/frame, m)


def sample_statistics(traces_dir: Path, max_rows: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"length": [], "speed": [], "depth": []}
    for path in list_episodes(traces_dir):
        if not layout.is_trace_episode(path):
            continue
        meta = json.loads((path / META).read_text())
        s = {k: layout.load_sample(path, k) for k in (layout.VALID_STEPS, layout.RAW_PREFIX + layout.TRAJ,
                                                     layout.RAW_PREFIX + layout.VALID_STEPS, layout.TRAJ)}
        parts["length"].append(np.asarray(s[layout.VALID_STEPS]).sum(axis=1).astype(np.float64))
        raw = np.asarray(s[layout.RAW_PREFIX + layout.TRAJ][:, :2, :2], np.float64)
        ok = np.asarray(s[layout.RAW_PREFIX + layout.VALID_STEPS][:, :2]).all(axis=1)
        parts["speed"].append(np.linalg.norm(raw[ok, 1] - raw[ok, 0], axis=1) / float(meta["width"]))
        if layout.z_valid(meta, path):
            z = np.asarray(s[layout.TRAJ][:, 0, 2], np.float64)
            parts["depth"].append(z[np.isfinite(z)])
    out = {}
    for key, arrays in parts.items():
        values = np.concatenate(arrays) if arrays else np.zeros(0)
        out[key] = rng.choice(values, max_rows, replace=False) if len(values) > max_rows else values
    return out


def quantiles(stats: dict[str, np.ndarray]) -> dict[str, list[float]]:
    return {k: [float(q) for q in np.quantile(v, QUANTILES)] for k, v in stats.items() if len(v)}


def load_accepted(traces_dir: Path) -> dict | None:
    path = traces_dir / STATS_FILE
    return json.loads(path.read_text()) if path.exists() else None


def save_accepted(traces_dir: Path, stats: dict[str, np.ndarray], dataset: dict) -> Path:
    from mu0.episodes.atomic import write_json_atomic

    path = traces_dir / STATS_FILE
    write_json_atomic(path, {"quantiles": quantiles(stats), "levels": QUANTILES, "dataset": dataset})
    return path


def drift_checks(accepted: dict, tolerance: float) -> dict[str, list[Check]]:
    import great_expectations as gx

    checks = {}
    for key, qs in accepted["quantiles"].items():
        ranges = [[q - tolerance * abs(q) - SLACK[key], q + tolerance * abs(q) + SLACK[key]] for q in qs]

        def make(ranges=ranges):
            return gx.expectations.ExpectColumnQuantileValuesToBeBetween(
                column="value", quantile_ranges={"quantiles": QUANTILES, "value_ranges": ranges})

        checks[f"drift_{key}"] = [Check(f"drift.{key}", f"drift_{key}", make, True,
                                        f"10/50/90th percentiles of {key} within ±{tolerance:.0%} of the accepted "
                                        f"dataset's {[round(q, 4) for q in qs]}")]
    return checks


def drift_tables(stats: dict[str, np.ndarray]) -> dict[str, pd.DataFrame]:
    return {f"drift_{k}": pd.DataFrame({"value": v}) for k, v in stats.items() if len(v)}
