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
