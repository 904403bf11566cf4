"""TraceExtract speed per core at 128×128 and 256×256, with each stage's share, for each `--motions`
(lk, template).

Episodes: Meta-World rollouts (front and wrist cameras) rendered at each size into a temporary
folder. References for the tracking stage, measured in the same run on the same frames: OpenCV's own
pyramidal LK following the same number of points frame to frame (no backward check, no re-seeding,
no geometry), and OpenCV's DIS dense flow (medium preset) once per frame pair, which the template
tracker also computes for one of its guesses. Printed ratios are mu0 / reference.
Run: `.venv/bin/python benchmarks/bench_trace_extract.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])


def opencv_lk_fps(images, n_points: int, window: int, levels: int) -> float:
    import cv2
    import numpy as np

    grays = [cv2.cvtColor(np.ascontiguousarray(im), cv2.COLOR_RGB2GRAY) for im in images]
    pts = cv2.goodFeaturesToTrack(grays[0], maxCorners=max(n_points, 1), qualityLevel=0.002, minDistance=3)
    start = time.perf_counter()
    for a, b in zip(grays[:-1], grays[1:], strict=True):
        pts, _, _ = cv2.calcOpticalFlowPyrLK(a, b, pts, None, winSize=(window, window), maxLevel=levels)
    return (len(grays) - 1) / (time.perf_counter() - start)


def opencv_dis_fps(images) -> float:
    import cv2
    import numpy as np

    grays = [cv2.cvtColor(np.ascontiguousarray(im), cv2.COLOR_RGB2GRAY) for im in images]
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    start = time.perf_counter()
    for a, b in zip(grays[:-1], grays[1:], strict=True):
        dis.calc(a, b, None)
    return (len(grays) - 1) / (time.perf_counter() - start)


def bench_size(size: int, tasks: tuple[str, ...], steps: int, motion: str) -> dict:
    import dataclasses

    import numpy as np

    from mu0.config import MetaWorldSourceConfig, TraceExtractConfig
    from mu0.episodes import list_episodes, open_episode
    from mu0.sources.stages import ingest_metaworld
    from mu0.trace_extract.pipeline import trace_episode

    cfg = dataclasses.replace(TraceExtractConfig(), tracker="lk", motion=motion)
    with tempfile.TemporaryDirectory() as tmp:
        ingest_metaworld(MetaWorldSourceConfig(tasks=tasks, episodes_per_task=1, size=size, max_steps=steps),
                         Path(tmp) / "raw", Path(tmp) / "q")
        frames, wall, stages, lk_ref, dis_ref, tracking = 0, 0.0, {}, [], [], []
        for path in list_episodes(Path(tmp) / "raw"):
            ep = open_episode(path)
            start = time.perf_counter()
            result = trace_episode(ep, cfg)
            wall += time.perf_counter() - start
            frames += ep.num_frames
            for k, v in result.timing_s.items():
                stages[k] = stages.get(k, 0.0) + v
            n_visible = int(np.median(result.tracks["visible"].sum(axis=0)))
            lk_ref.append(opencv_lk_fps(np.asarray(ep.images), n_visible, cfg.lk_window_px, cfg.lk_levels))
            dis_ref.append(opencv_dis_fps(np.asarray(ep.images)))
            tracking.append(ep.num_frames / result.timing_s["tracking"])
    return {"size": size, "motion": motion, "episodes": len(lk_ref), "frames": frames, "fps": frames / wall,
            "stage_share": {k: v / wall for k, v in sorted(stages.items())},
            "tracking_fps": float(np.mean(tracking)), "opencv_lk_fps": float(np.mean(lk_ref)),
            "ratio_tracking_vs_opencv_lk": float(np.mean(tracking) / np.mean(lk_ref)),
            "opencv_dis_fps": float(np.mean(dis_ref)),
            "ratio_tracking_vs_opencv_dis": float(np.mean(tracking) / np.mean(dis_ref))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", nargs="+", default=["pick-place-v3", "door-open-v3", "push-v3"])
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--sizes", nargs="+", type=int, default=[128, 256])
    parser.add_argument("--motions", nargs="+", default=["lk", "template"])
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    import scipy.cluster.hierarchy  # noqa: F401

    from mu0.config import TraceExtractConfig  # noqa: F401  (warm the imports outside the timed region)
    from mu0.trace_extract import motion  # noqa: F401

    results = [bench_size(size, tuple(args.tasks), args.steps, m) for size in args.sizes for m in args.motions]
    for r in results:
        shares = ", ".join(f"{k} {v:.0%}" for k, v in r["stage_share"].items())
        print(f"{r['size']}x{r['size']}, motion {r['motion']}: {r['fps']:.1f} frames/s per core over {r['frames']} "
              f"frames ({r['episodes']} episodes); stages: {shares}")
        print(f"  tracking {r['tracking_fps']:.1f} frames/s vs OpenCV LK alone {r['opencv_lk_fps']:.0f} "
              f"(same points, same frames): ratio {r['ratio_tracking_vs_opencv_lk']:.3f}; vs DIS flow alone "
              f"{r['opencv_dis_fps']:.0f}: ratio {r['ratio_tracking_vs_opencv_dis']:.3f}")
    out = Path(__file__).parent / "results" / "trace_extract.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
