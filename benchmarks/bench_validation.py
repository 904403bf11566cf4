"""Validating one million trace rows (trace checks + drift) with the released horizons (future 128,
history 32). Writes 10 synthetic trace episodes of 100k rows each to a temporary folder, validates
them twice (the first run stores the drift baseline, the second also checks drift) and compares with
a reference measured in the same run: reading every sample array from disk into memory.
Run: `.venv/bin/python benchmarks/bench_validation.py [--rows 1000000]`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def write_trace_episode(root: Path, eid: str, rows: int, rng: np.random.Generator, fut: int = 128, hist: int = 32):
    folder = root / eid
    (folder / "samples").mkdir(parents=True)
    frames = 100
    per = rows // frames
    offsets = np.arange(frames + 1, dtype=np.int64) * per
    n = int(offsets[-1])

    def window(steps):
        length = rng.integers(1, steps + 1, n)
        valid = np.arange(steps)[None, :] < length[:, None]
        base = rng.uniform(0, 127, (n, 1, 3)) + np.cumsum(rng.normal(0, 0.5, (n, steps, 3)), axis=1)
        base[..., 2] = np.abs(base[..., 2]) % 2 + 0.5
        return np.where(valid[..., None], base, -np.inf).astype(np.float16), valid

    arrays = {"frame_indices": np.arange(frames, dtype=np.int32), "offsets": offsets}
    for name, steps in (("traj", fut), ("raw_traj", fut), ("traj_history", hist), ("raw_traj_history", hist)):
        arrays[name], valid = window(steps)
        suffix = "_history" if "history" in name else ""
        arrays[("raw_" if name.startswith("raw") else "") + "valid_steps" + suffix] = valid
    arrays["traj_history"][:, 0] = arrays["traj"][:, 0]
    arrays["traj"][:, 0, :2] = np.clip(arrays["traj"][:, 0, :2], 0, 127)  # query points inside the image
    arrays["traj_history"][:, 0] = arrays["traj"][:, 0]
    arrays["keypoints"] = arrays["traj"][:, 0, :2].astype(np.float32)
    arrays["is_moving"] = rng.random(n) < 0.5
    arrays["cluster_ids"] = arrays["is_moving"].astype(np.int32)
    for k, v in arrays.items():
        np.save(folder / "samples" / f"{k}.npy", v)
    meta = {"episode_id": eid, "num_frames": frames, "height": 128, "width": 128, "fps": 10.0,
            "extract": {"stats": {"z_valid": True}}}
    (folder / "meta.json").write_text(json.dumps(meta))
    chunk = {"start_idx": 0, "end_idx": frames - 1, "instruction_1": "a", "instruction_2": "b", "instruction_3": "c"}
    (folder / "captions.json").write_text(json.dumps({"chunk_texts": [chunk], "merged_texts": []}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--episodes", type=int, default=10)
    args = parser.parse_args()
    import great_expectations  # noqa: F401  (imported outside the timed region)

    from mu0.config import ValidationConfig
    from mu0.validation.gate import validate

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        traces = Path(tmp) / "traces"
        for i in range(args.episodes):
            write_trace_episode(traces, f"ep-{i:03d}", args.rows // args.episodes, rng)
        start = time.perf_counter()
        for path in sorted(traces.glob("*/samples/*.npy")):
            np.load(path)
        read_s = time.perf_counter() - start
        timings = []
        for _ in range(2):
            start = time.perf_counter()
            report = validate(None, traces, ValidationConfig(), Path(tmp) / "q")
            timings.append(time.perf_counter() - start)
    rows = sum(c["element_count"] for c in report["checks"] if c["name"] == "trace_rows.finite_where_valid")
    print(f"{rows} trace rows (future 128, history 32), {args.episodes} episodes; gate passed: {report['success']}")
    print(f"  validate, first run (stores the drift baseline)   {timings[0]:6.2f} s")
    print(f"  validate, second run (checks drift too)           {timings[1]:6.2f} s")
    print(f"  reference: np.load of every sample array          {read_s:6.2f} s")
    print(f"  ratio validate / read                             {timings[1] / read_s:6.2f}x")


if __name__ == "__main__":
    main()
