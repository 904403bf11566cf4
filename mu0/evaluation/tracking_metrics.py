"""Point-tracking metrics against ground truth: TAP-Vid 2D (δ_avg, occlusion accuracy, average
Jaccard), 3D position errors, and camera pose errors.

Shapes: n points, t frames. Pixel coordinates are (u = column, v = row).
"""

from __future__ import annotations

import numpy as np

THRESHOLDS_PX = (1, 2, 4, 8, 16)
THRESHOLDS_M = (0.01, 0.02, 0.05, 0.10)


def _check(name: str, arr: np.ndarray, shape: tuple) -> None:
    if arr.shape != shape:
        raise ValueError(f"{name} has shape {arr.shape}, expected {shape}")


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else float("nan")


def tapvid_2d_metrics(pred_uv_px: np.ndarray, pred_visible: np.ndarray, gt_uv_px: np.ndarray,
                      gt_visible: np.ndarray, image_hw: tuple[int, int], query_frames: np.ndarray,
                      mode: str = "first", thresholds_px=THRESHOLDS_PX, scale_to: int = 256) -> dict:
    """TAP-Vid metrics on coordinates rescaled to `scale_to`²; "first" evaluates frames after each
    point's query frame, "strided" every frame but the query frame."""
    if np.ndim(gt_visible) != 2:
        raise ValueError(f"gt_visible has shape {np.shape(gt_visible)}, expected (n, t)")
    gt_visible, pred_visible = np.asarray(gt_visible, bool), np.asarray(pred_visible, bool)
    n, t = gt_visible.shape
    _check("gt_uv_px", gt_uv_px, (n, t, 2))
    _check("pred_uv_px", pred_uv_px, (n, t, 2))
    _check("pred_visible", pred_visible, (n, t))
    _check("query_frames", np.asarray(query_frames), (n,))
    if mode not in ("first", "strided"):
        raise ValueError(f"mode must be 'first' or 'strided', got {mode!r}")
    h, w = image_hw
    scale = np.array([scale_to / w, scale_to / h])
    with np.errstate(invalid="ignore"):
        dist = np.linalg.norm((pred_uv_px - gt_uv_px) * scale, axis=2)
    frames = np.arange(t)[None, :]
    q = np.asarray(query_frames)[:, None]
    evaluated = frames > q if mode == "first" else frames != q
    gt_vis = gt_visible & evaluated
    pred_vis = pred_visible & evaluated
    out: dict = {"n_points": int(n), "n_evaluated": int(gt_vis.sum())}
    within_all, jaccard_all = [], []
    for d in thresholds_px:
        with np.errstate(invalid="ignore"):
            within = dist < d  # NaN (no prediction) is never within
        out[f"pts_within_{int(d)}"] = _ratio((within & gt_vis).sum(), gt_vis.sum())
        tp = (gt_vis & pred_vis & within).sum()
        fp = (pred_vis & (~gt_vis | ~within)).sum()
        out[f"jaccard_{int(d)}"] = _ratio(tp, gt_vis.sum() + fp)
        within_all.append(out[f"pts_within_{int(d)}"])
        jaccard_all.append(out[f"jaccard_{int(d)}"])
    out["delta_avg"] = float(np.mean(within_all))
    out["average_jaccard"] = float(np.mean(jaccard_all))
    out["occlusion_accuracy"] = _ratio(((pred_visible == gt_visible) & evaluated).sum(), evaluated.sum())
    return out


def error_3d_metrics(pred_xyz: np.ndarray, gt_xyz: np.ndarray, mask: np.ndarray,
                     thresholds_m=THRESHOLDS_M) -> dict:
    """Euclidean error (metres) over the masked (point, frame) pairs; non-finite predictions are
    counted apart (`n_nonfinite`) and never within a threshold."""
    if np.ndim(gt_xyz) != 3 or np.shape(gt_xyz)[-1] != 3:
        raise ValueError(f"gt_xyz has shape {np.shape(gt_xyz)}, expected (n, t, 3)")
    _check("pred_xyz", pred_xyz, gt_xyz.shape)
    _check("mask", mask, gt_xyz.shape[:2])
    err = np.linalg.norm(pred_xyz - gt_xyz, axis=-1)[mask]
    finite = np.isfinite(err)
    out: dict = {"n_evaluated": int(mask.sum()), "n_nonfinite": int((~finite).sum())}
    good = err[finite]
    out["median_error_m"] = float(np.median(good)) if good.size else float("nan")
    out["mean_error_m"] = float(np.mean(good)) if good.size else float("nan")
    for thr in thresholds_m:
        out[f"within_{round(thr * 100)}cm"] = _ratio((good < thr).sum(), err.size)
    return out


def _rotation_angle_deg(R: np.ndarray) -> np.ndarray:
    cos = (np.trace(R, axis1=-2, axis2=-1) - 1) / 2
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def pose_errors(T_est_world_to_cam: np.ndarray, T_gt_world_to_cam: np.ndarray) -> dict:
    """Errors of estimated camera poses (t,4,4) relative to the first frame, so the arbitrary world
    frame of an estimate does not count: rotation in degrees, camera-centre translation in metres."""
    _check("T_est_world_to_cam", T_est_world_to_cam, T_gt_world_to_cam.shape)

    def relative(T_world_to_cam: np.ndarray) -> np.ndarray:
        cam_to_world = np.linalg.inv(T_world_to_cam)
        return np.linalg.inv(cam_to_world[0])[None] @ cam_to_world  # every camera in the first camera's frame

    est, gt = relative(T_est_world_to_cam), relative(T_gt_world_to_cam)
    rot = _rotation_angle_deg(np.swapaxes(est[:, :3, :3], 1, 2) @ gt[:, :3, :3])
    trans = np.linalg.norm(est[:, :3, 3] - gt[:, :3, 3], axis=1)
    return {"rotation_error_deg_mean": float(rot.mean()), "rotation_error_deg_max": float(rot.max()),
            "translation_error_m_mean": float(trans.mean()), "translation_error_m_max": float(trans.max())}


def aggregate(rows: list[dict], keys: list[str]) -> dict:
    """Per key, the mean over rows weighted by each row's `n_evaluated` (NaN rows skipped)."""
    out = {}
    for key in keys:
        pairs = [(r[key], r.get("n_evaluated", 1)) for r in rows
                 if key in r and np.isfinite(r[key]) and r.get("n_evaluated", 1) > 0]
        weight = sum(w for _, w in pairs)
        out[key] = float(sum(v * w for v, w in pairs) / weight) if weight else float("nan")
    out["n_evaluated"] = int(sum(r.get("n_evaluated", 0) for r in rows))
    return out
