import numpy as np
import pytest

from mu0.evaluation.trace_metrics import ade_fde, dtw, frechet, smoothness, trace_metrics


def test_ade_and_fde_use_only_valid_steps_and_the_last_valid_one():
    gt = np.zeros((1, 4, 3))
    pred = np.zeros((1, 4, 3))
    pred[0, :, 0] = [1.0, 2.0, 9.0, 3.0]
    valid = np.array([[True, True, False, True]])
    ade, fde = ade_fde(pred, gt, valid)
    assert ade[0] == pytest.approx(2.0) and fde[0] == pytest.approx(3.0)
    assert np.isnan(ade_fde(pred, gt, np.zeros_like(valid))[0][0])


def test_dtw_and_frechet_by_hand():
    a = np.zeros((1, 3, 3))
    a[0, :, 0] = [0, 1, 2]
    b = a.copy()
    b[..., 1] += 1.0  # the same path, 1 unit to the side
    ok = np.ones((1, 3), bool)
    assert dtw(a, a, ok)[0] == 0 and frechet(a, a, ok)[0] == 0
    assert dtw(a, b, ok)[0] == pytest.approx(1.0) and frechet(a, b, ok)[0] == pytest.approx(1.0)
    late = a.copy()
    late[0, :, 0] = [0, 0, 1]  # the same path, one step late: DTW forgives timing, ADE does not
    assert dtw(late, a, ok)[0] < ade_fde(late, a, ok)[0][0] + 1e-9
    gap = np.array([[True, False, True]])
    assert frechet(a, b, gap)[0] == pytest.approx(1.0)


def test_smoothness_is_zero_for_constant_velocity():
    x = np.zeros((2, 6, 3))
    x[:, :, 0] = np.arange(6) * 0.5
    assert smoothness(x, np.ones((2, 6), bool)) == pytest.approx(0.0)
    x[0, 3, 1] = 1.0
    assert smoothness(x, np.ones((2, 6), bool)) > 0


def test_trace_metrics_summary_and_best_of_samples():
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(20, 8, 3)).cumsum(axis=1)
    valid = np.ones((20, 8), bool)
    good = gt + rng.normal(scale=0.05, size=gt.shape)
    bad = gt + 5.0
    m = trace_metrics(np.stack([bad, good]), gt, valid, horizon=4)
    assert m["trajectories"] == 20 and m["samples"] == 2
    assert m["ade_uv"] > 4 and m["minade_uv"] < 0.2  # sample 0 is scored; the best sample for min*
    assert m["ade_uvz"] >= m["ade_uv"] and "frechet_depth" in m and "smooth_gt" in m


def _reference_dtw_and_frechet(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """One pair of sequences, cell by cell, straight from the definitions."""
    d = np.linalg.norm(a[:, None] - b[None, :], axis=-1)
    n = len(a)
    cost, fre = np.full((n + 1, n + 1), np.inf), np.full((n, n), np.inf)
    cost[0, 0] = 0.0
    for i in range(n):
        for j in range(n):
            cost[i + 1, j + 1] = d[i, j] + min(cost[i, j + 1], cost[i + 1, j], cost[i, j])
            before = [fre[p, q] for p, q in ((i - 1, j), (i, j - 1), (i - 1, j - 1)) if p >= 0 and q >= 0]
            fre[i, j] = max(d[i, j], min(before)) if before else d[i, j]
    return cost[n, n] / n, fre[n - 1, n - 1]


def test_dtw_and_frechet_of_many_trajectories_match_the_definitions():
    rng = np.random.default_rng(3)
    pred, gt = rng.normal(size=(2, 40, 7, 3))
    valid = rng.random((40, 7)) > 0.3
    valid[0] = False  # no valid step: NaN
    got_dtw, got_frechet = dtw(pred, gt, valid), frechet(pred, gt, valid)
    assert np.isnan(got_dtw[0]) and np.isnan(got_frechet[0])
    for m in range(1, 40):
        if valid[m].any():
            want = _reference_dtw_and_frechet(pred[m][valid[m]], gt[m][valid[m]])
            assert (got_dtw[m], got_frechet[m]) == pytest.approx(want, rel=1e-12)
