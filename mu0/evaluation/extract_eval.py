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
from mu0.episodes.trace_layout import (
    TRACK_HAS_DEPTH,
    TRACK_START,
    TRACK_UV_PX,
    TRACK_VISIBLE,
    TRACK_XYZ_WORLD,
    TRACKS_FILE,
)
from mu0.evaluation.query_eval import evaluate_queried
from mu0.evaluation.tracking_metrics import aggregate, error_3d_metrics, pose_errors, tapvid_2d_metrics
from mu0.trace_extract.groundtruth import track_query_pixels
from mu0.trace_extract.groundtruth_source import SOURCE_NAME

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
    queried: dict | None = None  # scores on given queries (evaluation.query_eval), None without body maps


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
    with np.load(trace_path / TRACKS_FILE) as tr:
        tracks = {k: tr[k] for k in tr.files}
    queries = np.flatnonzero(tracks[TRACK_START] == 0)
    q_px = np.rint(tracks[TRACK_UV_PX][queries, 0]).astype(np.int64)
    gt = track_query_pixels(raw, q_px)
    ok = gt.query_valid
    queries, gt_uv, gt_vis, gt_xyz = queries[ok], gt.uv_px[ok], gt.visible[ok], gt.xyz_world[ok]
    pred_uv, pred_vis = tracks[TRACK_UV_PX][queries].astype(np.float64), tracks[TRACK_VISIBLE][queries]
    hw = raw.images.shape[1:3]
    zeros = np.zeros(len(queries), np.int64)
    moving = _true_moving(gt_xyz)
    all_2d = tapvid_2d_metrics(pred_uv, pred_vis, gt_uv, gt_vis, hw, zeros)
    moving_2d = tapvid_2d_metrics(pred_uv[moving], pred_vis[moving], gt_uv[moving], gt_vis[moving], hw,
                                  zeros[moving])
    after = np.arange(raw.num_frames)[None, :] > 0
    mask = gt_vis & pred_vis & tracks[TRACK_HAS_DEPTH][queries] & after
    all_3d = error_3d_metrics(tracks[TRACK_XYZ_WORLD][queries].astype(np.float64), gt_xyz, mask)
    poses = trace.meta.get("extract", {}).get("stats", {}).get("poses", "given")
    pose = pose_errors(trace.extrinsics.astype(np.float64), raw.extrinsics.astype(np.float64)) \
        if poses == "estimated" else None
    queried = evaluate_queried(raw, tracks, trace.meta) if poses == "given" else None
    return EpisodeEval(raw.episode_id, raw.meta["task"], raw.meta["camera"], poses, all_2d, moving_2d, all_3d, pose,
                       None if queried is None else dataclasses.asdict(queried))


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
        queried = [r.queried for r in rs if r.queried]
        if queried:
            out[name].update(_queried_group(queried))
        pose_rows = [r.pose for r in rs if r.pose]
        if pose_rows:
            out[name]["pose"] = {k: float(np.mean([p[k] for p in pose_rows])) for k in pose_rows[0]}
    return out


def _share(num: int, den: int) -> float:
    return num / den if den else float("nan")


def _queried_group(rows: list[dict]) -> dict:
    """The given-query figures of a group of episodes: 2D and 3D over all moving queries and per body
    class (means weighted by evaluated points), coverage, motion labels and false motion (pooled counts)."""
    covered, bodies = (sum(r["coverage"][i] for r in rows) for i in (0, 1))
    tp, fp, fn = (sum(r["labels"][i] for r in rows) for i in (0, 1, 2))
    life_tp, life_fp, life_fn = (sum(r["labels_over_life"][i] for r in rows) for i in (0, 1, 2))
    made_up, moved = (sum(r["false_motion"][i] for r in rows) for i in (0, 1))
    classes = sorted({c for r in rows for c in r["by_class"]})
    return {
        "queried_moving_2d": aggregate([r["moving_2d"] for r in rows if r["moving_2d"]], KEYS_2D),
        "queried_moving_3d": aggregate([r["moving_3d"] for r in rows if r["moving_3d"]], KEYS_3D),
        # what the queries score if every point stays on its query pixel: the reference a tracker must beat
        "queried_moving_2d_stays": aggregate([r.get("stays_2d", {}) for r in rows if r["moving_2d"]], KEYS_2D),
        "queried_by_class": {c: {k: aggregate([r["by_class"][c].get(k, {}) for r in rows if c in r["by_class"]], keys)
                                 for k, keys in (("2d", KEYS_2D), ("3d", KEYS_3D), ("stays_2d", KEYS_2D))}
                             for c in classes},
        "moving_body_coverage": _share(covered, bodies),
        "moving_bodies": bodies,
        "motion_labels": {"precision": _share(tp, tp + fp), "recall": _share(tp, tp + fn)},
        # the truth over each track's own life, not the rest of the episode: labelling apart from losing points
        "motion_labels_over_track_life": {"precision": _share(life_tp, life_tp + life_fp),
                                          "recall": _share(life_tp, life_tp + life_fn)},
        "false_motion_share": _share(made_up, moved),
    }


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


def _f(x: float, scale: float = 1.0, digits: int = 3) -> str:
    return "–" if x != x else f"{scale * x:.{digits}f}"


def queried_table(report: dict) -> str:
    """Given queries on moving bodies (δ_avg, AJ, OA, 3D), coverage, motion labels and false motion."""
    head = ("| task / camera | δ_avg | δ_avg if points stay | AJ | OA | 3D median (cm) | 3D ≤2 cm | coverage | "
            "is_moving P / R | P / R over track life | false motion |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
    lines = []
    for section in ("by_task_camera", "by_camera"):
        for name, g in report[section].items():
            if "queried_moving_2d" not in g:
                continue
            q2, q3, lab = g["queried_moving_2d"], g["queried_moving_3d"], g["motion_labels"]
            life = g.get("motion_labels_over_track_life", {"precision": float("nan"), "recall": float("nan")})
            label = f"**{name} (all tasks)**" if section == "by_camera" else name
            stays = g.get("queried_moving_2d_stays", {}).get("delta_avg", float("nan"))
            lines.append(f"| {label} | {_f(q2['delta_avg'])} | {_f(stays)} | {_f(q2['average_jaccard'])} | "
                         f"{_f(q2['occlusion_accuracy'])} | {_f(q3['median_error_m'], 100, 2)} | "
                         f"{_f(q3['within_2cm'])} | {_f(g['moving_body_coverage'], 1, 2)} "
                         f"({g['moving_bodies']}) | {_f(lab['precision'], 1, 2)} / {_f(lab['recall'], 1, 2)} | "
                         f"{_f(life['precision'], 1, 2)} / {_f(life['recall'], 1, 2)} | "
                         f"{_f(g['false_motion_share'], 1, 2)} |")
    classes = ["| camera, body class | δ_avg | δ_avg if points stay | AJ | OA | 3D median (cm) | 3D ≤2 cm | points |",
               "|---|---|---|---|---|---|---|---|"]
    for name, g in report["by_camera"].items():
        for c, v in g.get("queried_by_class", {}).items():
            stays = v.get("stays_2d", {}).get("delta_avg", float("nan"))
            classes.append(f"| {name}, {c} | {_f(v['2d']['delta_avg'])} | {_f(stays)} | "
                           f"{_f(v['2d']['average_jaccard'])} | "
                           f"{_f(v['2d']['occlusion_accuracy'])} | {_f(v['3d']['median_error_m'], 100, 2)} | "
                           f"{_f(v['3d']['within_2cm'])} | {v['2d']['n_evaluated']} |")
    if not lines:
        return ""
    return head + "\n".join(lines) + "\n\n" + "\n".join(classes) + "\n"


def write_report(report: dict, path: Path) -> Path:
    from mu0.episodes.atomic import write_bytes_atomic, write_json_atomic

    write_json_atomic(path, report)
    md = path.with_suffix(".md")
    queried = queried_table(report)
    text = "# TraceExtract vs simulator ground truth\n\n## The extractor's own tracks\n\n" + markdown_table(report)
    if queried:
        text += ("\n## Given queries on moving bodies (TAP-Vid \"first\"; coverage: moving bodies seen in frame 0 "
                 "with ≥ 3 tracks; false motion: extracted motion on truly static points)\n\n" + queried)
    write_bytes_atomic(md, text.encode())
    return md
