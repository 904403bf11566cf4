import json
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.interpolate import BSpline, make_lsq_spline

from mu0.models.bspline import BSplineTrace, basis_matrix, difference_operator, knot_vector


@pytest.mark.parametrize("kind", ["mu0", "uniform"])
@pytest.mark.parametrize("k", [4, 7, 10])
def test_basis_and_derivative_match_scipy(kind, k):
    t = knot_vector(k, kind)
    s = np.random.default_rng(k).uniform(0, 1, 50)
    s[:2] = [0.0, 1.0]
    np.testing.assert_allclose(basis_matrix(t, s), BSpline.design_matrix(s, t, 3).toarray(), atol=1e-12)
    deriv = np.stack([BSpline(t, np.eye(k)[i], 3).derivative()(s) for i in range(k)], axis=1)
    np.testing.assert_allclose(basis_matrix(t, s, derivative=1), deriv, atol=1e-9)
    np.testing.assert_allclose(basis_matrix(t, s).sum(axis=1), 1.0)


# the float32 buffers of the default configs (horizon 32, the debug preset's 16) before the basis came from scipy
PINS = json.loads((Path(__file__).parent / "bspline_pins.json").read_text())


@pytest.mark.parametrize("name", sorted(PINS))
def test_basis_buffers_keep_their_pinned_values(name):
    config, buffer = name.split("/")
    horizon, num_ctrl, knots = config.split("-")
    spline = BSplineTrace(horizon=int(horizon), num_ctrl=int(num_ctrl), knots=knots)
    np.testing.assert_allclose(getattr(spline, buffer).numpy(), PINS[name], rtol=0, atol=1e-6)


def test_released_knots_and_their_kinks():
    third, two_thirds = [1 / 3] * 3, [2 / 3] * 3
    np.testing.assert_allclose(knot_vector(10, "mu0"), [0] * 4 + third + two_thirds + [1] * 4)
    ctrl = np.random.default_rng(0).normal(size=10)
    eps = 1e-7
    for kind, continuous in (("mu0", False), ("uniform", True)):
        d = BSpline(knot_vector(10, kind), ctrl, 3).derivative()
        jump = abs(d(1 / 3 + eps) - d(1 / 3 - eps))
        assert (jump < 1e-4) == continuous, (kind, jump)
    with pytest.raises(ValueError, match="3m \\+ 1"):
        knot_vector(8, "mu0")


def test_render_equals_scipy_evaluation():
    spline = BSplineTrace(horizon=32, num_ctrl=10, knots="uniform")
    ctrl = torch.randn(2, 3, 10, 3)
    out = spline.render(ctrl)
    assert out.shape == (2, 3, 32, 3)
    s = np.arange(1, 33) / 32
    ref = BSpline(knot_vector(10, "uniform"), ctrl[1, 2].numpy(), 3)(s)
    np.testing.assert_allclose(out[1, 2].numpy(), ref, atol=1e-5)


def test_fit_matches_least_squares_with_the_anchor_row():
    spline = BSplineTrace(horizon=32, num_ctrl=10, knots="mu0", reg_lambda=0.0, clip=100.0)
    s = np.arange(33) / 32
    y = np.stack([np.sin(2 * s), s ** 2, 0.3 * s], axis=1)
    y -= y[0]  # anchor-relative: step 0 is 0
    ctrl = spline.fit(torch.tensor(y[1:], dtype=torch.float32)[None, None], torch.ones(1, 1, 32, dtype=torch.bool))
    ref = make_lsq_spline(s, y, knot_vector(10, "mu0"), k=3).c
    np.testing.assert_allclose(ctrl[0, 0].numpy(), ref, atol=1e-4)
    assert float((spline.render(ctrl)[0, 0] - torch.tensor(y[1:])).abs().max()) < 0.01


def test_invalid_steps_are_ignored_on_both_sides():
    spline = BSplineTrace(horizon=32, num_ctrl=10)
    s = np.arange(1, 33) / 32
    y = torch.tensor(np.stack([s, -s, s ** 2], axis=1), dtype=torch.float32)[None, None]
    valid = torch.ones(1, 1, 32, dtype=torch.bool)
    valid[..., 20:] = False
    garbage = y.clone()
    garbage[..., 20:, :] = float("-inf")
    a = spline.fit(y, valid)
    b = spline.fit(garbage, valid)
    assert torch.isfinite(b).all()
    torch.testing.assert_close(a, b)
    # zeroing only the target would bias the tail toward 0; here the fit follows the valid part
    assert float((spline.render(b)[0, 0, :20] - y[0, 0, :20]).abs().max()) < 0.02


def test_regulariser_and_clip():
    gamma = difference_operator(4)
    np.testing.assert_allclose(gamma @ np.array([1.0, 3.0, 6.0, 10.0]), [2.0, 3.0, 4.0])
    trace = torch.full((1, 1, 32, 3), 5.0)
    clipped = BSplineTrace(clip=1.5).fit(trace, torch.ones(1, 1, 32, dtype=torch.bool))
    assert float(clipped.abs().max()) == pytest.approx(1.5)
    rough = torch.randn(4, 8, 32, 3)
    valid = torch.ones(4, 8, 32, dtype=torch.bool)
    loose = BSplineTrace(reg_lambda=0.0, clip=100).fit(rough, valid)
    tight = BSplineTrace(reg_lambda=5.0, clip=100).fit(rough, valid)
    assert tight.diff(dim=2).abs().mean() < loose.diff(dim=2).abs().mean()


def test_fit_runs_in_float32_under_bfloat16_autocast():
    spline = BSplineTrace()
    y = torch.randn(2, 4, 32, 3) * 0.3
    valid = torch.rand(2, 4, 32) > 0.2
    plain = spline.fit(y, valid)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        auto = spline.fit(y, valid)
    assert auto.dtype == torch.float32
    torch.testing.assert_close(plain, auto)
