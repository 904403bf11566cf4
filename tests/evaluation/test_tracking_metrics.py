import numpy as np
import pytest

from mu0.evaluation.tracking_metrics import aggregate, error_3d_metrics, pose_errors, tapvid_2d_metrics


def _tracks(n=4, t=5, hw=(128, 64)):
    rng = np.random.default_rng(0)
    gt = rng.uniform(0, min(hw), (n, t, 2))
    return gt, np.ones((n, t), bool), np.zeros(n, np.int64)


def test_perfect_tracks_score_one():
    gt, vis, q = _tracks()
    m = tapvid_2d_metrics(gt.copy(), vis.copy(), gt, vis, (128, 64), q)
    assert m["delta_avg"] == m["occlusion_accuracy"] == m["average_jaccard"] == 1.0
    assert m["n_evaluated"] == 4 * 4  # the query frame is not evaluated


def test_thresholds_apply_at_256_scale_on_non_square_images():
    gt, vis, q = _tracks(hw=(128, 64))
    pred = gt.copy()
    pred[..., 0] += 3 * 64 / 256  # 3 px at 256 scale along u (W=64)
    m = tapvid_2d_metrics(pred, vis, gt, vis, (128, 64), q)
    assert (m["pts_within_1"], m["pts_within_2"], m["pts_within_4"], m["pts_within_16"]) == (0, 0, 1, 1)
    assert m["delta_avg"] == pytest.approx(0.6)
    pred = gt.copy()
    pred[..., 1] += 3 * 128 / 256  # the same 3 px along v (H=128)
    assert tapvid_2d_metrics(pred, vis, gt, vis, (128, 64), q)["delta_avg"] == pytest.approx(0.6)


def test_first_and_strided_modes_exclude_the_right_frames():
    gt = np.zeros((1, 4, 2))
    pred = gt.copy()
    pred[0, 0] = 100  # frame 0 is wrong, every other frame right
    vis = np.ones((1, 4), bool)
    first = tapvid_2d_metrics(pred, vis, gt, vis, (256, 256), np.array([2]), mode="first")
    assert first["n_evaluated"] == 1 and first["delta_avg"] == 1.0  # only frame 3
    strided = tapvid_2d_metrics(pred, vis, gt, vis, (256, 256), np.array([2]), mode="strided")
    assert strided["n_evaluated"] == 3 and strided["delta_avg"] == pytest.approx(2 / 3)


def test_occlusion_accuracy_and_jaccard_by_hand():
    gt = np.zeros((1, 5, 2))
    pred = gt.copy()
    pred[0, 4] = 50.0  # visible, predicted visible, but far off
    gt_vis = np.array([[True, True, True, False, True]])
    pred_vis = np.array([[True, True, False, True, True]])  # frame 2 false negative, frame 3 false positive
    m = tapvid_2d_metrics(pred, pred_vis, gt, gt_vis, (256, 256), np.array([0]))
    # evaluated frames 1..4: gt-visible 1,2,4; within at 1,2; TP only frame 1; FP frames 3 and 4
    assert m["occlusion_accuracy"] == pytest.approx(2 / 4)
    assert m["pts_within_1"] == pytest.approx(2 / 3)
    assert m["jaccard_1"] == pytest.approx(1 / (3 + 2))


def test_missing_predictions_are_misses_and_empty_is_nan():
    gt, vis, q = _tracks()
    pred = gt.copy()
    pred[0, 2:] = np.nan
    m = tapvid_2d_metrics(pred, vis, gt, vis, (128, 64), q)
    assert m["pts_within_16"] == pytest.approx(13 / 16)  # frames 2-4 of point 0 are misses
    empty = tapvid_2d_metrics(pred, vis, gt, np.zeros_like(vis), (128, 64), q)
    assert np.isnan(empty["delta_avg"]) and empty["n_evaluated"] == 0


def test_shape_mismatch_names_the_argument():
    gt, vis, q = _tracks()
    with pytest.raises(ValueError, match="pred_uv_px has shape"):
        tapvid_2d_metrics(gt[:, :3], vis, gt, vis, (128, 64), q)
    with pytest.raises(ValueError, match="gt_visible has shape"):
        tapvid_2d_metrics(gt, vis, gt, vis[0], (128, 64), q)
    with pytest.raises(ValueError, match="gt_xyz has shape"):
        error_3d_metrics(np.zeros((4, 3)), np.zeros((4, 3)), np.ones(4, bool))


def test_3d_errors():
    gt = np.zeros((4, 1, 3))
    pred = gt.copy()
    pred[:, 0, 0] = [0.005, 0.015, 0.03, 0.2]
    m = error_3d_metrics(pred, gt, np.ones((4, 1), bool))
    assert m["median_error_m"] == pytest.approx(0.0225) and m["mean_error_m"] == pytest.approx(0.0625)
    assert (m["within_1cm"], m["within_2cm"], m["within_5cm"], m["within_10cm"]) == (0.25, 0.5, 0.75, 0.75)
    pred[3] = np.nan
    m = error_3d_metrics(pred, gt, np.ones((4, 1), bool))
    assert m["n_nonfinite"] == 1 and m["within_10cm"] == 0.75 and m["mean_error_m"] == pytest.approx(0.05 / 3)


def _poses(t=6):
    out = []
    for f in range(t):
        a = 0.1 * f
        T = np.eye(4)
        T[:3, :3] = [[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]]
        T[:3, 3] = [0.1 * f, 0, 0.02 * f]
        out.append(T)
    return np.array(out)


def test_pose_errors_ignore_the_world_frame_and_catch_a_wrong_rotation():
    gt = _poses()
    assert pose_errors(gt, gt)["rotation_error_deg_max"] == pytest.approx(0, abs=1e-5)
    G = np.eye(4)
    G[:3, :3] = [[0, -1, 0], [1, 0, 0], [0, 0, 1]]
    G[:3, 3] = [1, 2, 3]
    moved = pose_errors(gt @ G, gt)  # the same cameras in another world frame
    assert moved["rotation_error_deg_max"] < 1e-5 and moved["translation_error_m_max"] < 1e-9
    est = gt.copy()
    a = np.radians(10)
    est[3, :3, :3] = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]]) @ est[3, :3, :3]
    assert pose_errors(est, gt)["rotation_error_deg_max"] == pytest.approx(10, abs=1e-6)


def test_aggregate_weights_by_evaluated_points():
    rows = [{"delta_avg": 1.0, "n_evaluated": 30}, {"delta_avg": 0.0, "n_evaluated": 10},
            {"delta_avg": float("nan"), "n_evaluated": 0}]
    assert aggregate(rows, ["delta_avg"])["delta_avg"] == pytest.approx(0.75)
