"""TraceExtract against simulator ground truth: TAP-Vid-style 2D metrics, 3D errors, pose errors.

The queries are the tracks TraceExtract seeded in frame 0 (ground truth exists for any frame-0
pixel that sees a body: gt/body_ids.npy). Their true tracks come from the simulator
(trace_extract.groundtruth), and the predicted ones from the trace episode's tracks.npz. Metrics are
reported for all queries and for the moving ones only (the points traces are about), per episode
and aggregated per task and camera. Shapes: n queries, t frames.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np

from mu0.episodes import list_episodes, open_episode
from mu0.evaluation.tracking_metrics import aggregate, error_3d_metrics, pose_errors, tapvid_2d_metrics
from mu0.trace_extract.groundtruth import track_query_pixels
from mu0.trace_extract.groundtruth_source import SOURCE_NAME
from mu0.trace_extract.output import TRACKS

log = logging.getLogger(__name__)
MOVING_M = 0.015  # a query whose true world track spans more than this is a moving point
KEYS_2D = ["delta_avg", "occlusion_accuracy", "average_jaccard"]
KEYS_3D = ["median_error_m", "mean_error_m", "within_1cm", "within_2cm", "within_5cm", "within_10cm"]


@dataclasses.dataclass
class EpisodeEval:
    episode_id: str
    task: str
    camera: str
    poses: str
    all_2d: dict
    moving_2d: dict
    all_3d: dict
    pose: dict | None


def _true_moving(xyz_world: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        span = np.nanmax(xyz_world, axis=1) - np.nanmin(xyz_world, axis=1)
    return np.nan_to_num(np.linalg.norm(span, axis=1), nan=0.0) > MOVING_M


def evaluate_episode(raw_path: Path, trace_path: Path) -> EpisodeEval | None:
    raw = open_episode(raw_path)
    if raw.gt_dir is None or raw.depth is None:
        return None
    trace = open_episode(trace_path)
    if trace.meta.get("trace_source") == SOURCE_NAME:  # the simulator scored against itself says nothing
        log.warning("%s: traces made by the groundtruth tracker; not scored (extract with --tracker lk)", trace_path)
        return None
    with np.load(trace_path / TRACKS) as tr:
        tracks = {k: tr[k] for k in tr.files}
    queries = np.flatnonzero(tracks["start"] == 0)
    q_px = np.rint(tracks["uv_px"][queries, 0]).astype(np.int64)
    gt = track_query_pixels(raw, q_px)
    ok = gt.query_valid
    queries, gt_uv, gt_vis, gt_xyz = queries[ok], gt.uv_px[ok], gt.visible[ok], gt.xyz_world[ok]
    pred_uv, pred_vis = tracks["uv_px"][queries].astype(np.float64), tracks["visible"][queries]
    hw = raw.images.shape[1:3]
    zeros = np.zeros(len(queries), np.int64)
    moving = _true_moving(gt_xyz)
    all_2d = tapvid_2d_metrics(pred_uv, pred_vis, gt_uv, gt_vis, hw, zeros)
    moving_2d = tapvid_2d_metrics(pred_uv[moving], pred_vis[moving], gt_uv[moving], gt_vis[moving], hw,
                                  zeros[moving])
    after = np.arange(raw.num_frames)[None, :] > 0
    mask = gt_vis & pred_vis & tracks["has_depth"][queries] & after
    all_3d = error_3d_metrics(tracks["xyz_world"][queries].astype(np.float64), gt_xyz, mask)
    poses = trace.meta.get("extract", {}).get("stats", {}).get("poses", "given")
    pose = pose_errors(trace.extrinsics.astype(np.float64), raw.extrinsics.astype(np.float64)) \
        if poses == "estimated" else None
    return EpisodeEval(raw.episode_id, raw.meta["task"], raw.meta["camera"], poses, all_2d, moving_2d, all_3d, pose)


def _group(rows: list[EpisodeEval], key) -> dict:
    groups: dict[str, list[EpisodeEval]] = {}
    for r in rows:
        groups.setdefault(key(r), []).append(r)
    out = {}
    for name, rs in sorted(groups.items()):
        out[name] = {
            "episodes": len(rs),
            "all_2d": aggregate([r.all_2d for r in rs], KEYS_2D),
            "moving_2d": aggregate([r.moving_2d for r in rs], KEYS_2D),
            "all_3d": aggregate([r.all_3d for r in rs], KEYS_3D),
        }
        pose_rows = [r.pose for r in rs if r.pose]
        if pose_rows:
            out[name]["pose"] = {k: float(np.mean([p[k] for p in pose_rows])) for k in pose_rows[0]}
    return out


def evaluate(raw_dir: Path, traces_dir: Path) -> dict:
    rows = []
    for trace_path in list_episodes(traces_dir):
        raw_path = raw_dir / trace_path.name
        if not raw_path.exists():
            log.warning("no raw episode for %s; skipped", trace_path.name)
            continue
        row = evaluate_episode(raw_path, trace_path)
        if row is not None:
            rows.append(row)
    return {
        "episodes": [dataclasses.asdict(r) for r in rows],
        "by_task_camera": _group(rows, lambda r: f"{r.task}/{r.camera}"),
        "by_camera": _group(rows, lambda r: r.camera),
    }


def markdown_table(report: dict) -> str:
    head = ("| task / camera | eps | δ_avg all | δ_avg moving | OA | AJ | 3D median (cm) | 3D ≤2 cm | 3D ≤5 cm |\n"
            "|---|---|---|---|---|---|---|---|---|\n")
    lines = []
    for section in ("by_task_camera", "by_camera"):
        for name, g in report[section].items():
            a2, m2, a3 = g["all_2d"], g["moving_2d"], g["all_3d"]
            label = f"**{name} (all tasks)**" if section == "by_camera" else name
            lines.append(f"| {label} | {g['episodes']} | {a2['delta_avg']:.3f} | {m2['delta_avg']:.3f} | "
                         f"{a2['occlusion_accuracy']:.3f} | {a2['average_jaccard']:.3f} | "
                         f"{100 * a3['median_error_m']:.2f} | {a3['within_2cm']:.3f} | {a3['within_5cm']:.3f} |")
    return head + "\n".join(lines) + "\n"


def write_report(report: dict, path: Path) -> Path:
    from mu0.episodes.atomic import write_bytes_atomic, write_json_atomic

    write_json_atomic(path, report)
    md = path.with_suffix(".md")
    write_bytes_atomic(md, ("# TraceExtract vs simulator ground truth\n\n" + markdown_table(report)).encode())
    return md
