"""Cubic B-splines over a trace horizon: knot vectors, basis matrices, rendering and batched fitting.

A trace of H future steps is represented by K control points per axis. The parameter of step i is
s_i = i / H (i = 0..H, s_0 = the anchor, the query frame). Two knot vectors:
- "mu0": the released recipe's (from Trace Anything), for K=10 [0,0,0,0,⅓,⅓,⅓,⅔,⅔,⅔,1,1,1,1]. Its
  triple inner knots make the curve a chain of cubic Béziers that is only C0 at ⅓ and ⅔: velocity
  can jump there.
- "uniform": clamped uniform knots, C2 everywhere; same fit quality on smooth traces.
Fitting is per keypoint weighted least squares with an anchor row (s=0, target 0, weight 1), invalid
steps zeroed on both sides, a first-difference penalty λ‖ΓP‖² pulling neighbouring control points
together, and a final clip. Shapes: b batch, n keypoints, h steps, k control points, c axes.
"""

from __future__ import annotations

import numpy as np
import torch

DEGREE = 3


def knot_vector(num_ctrl: int, kind: str = "mu0") -> np.ndarray:
    """Clamped cubic knot vector with `num_ctrl` control points (len = num_ctrl + 4)."""
    if num_ctrl < DEGREE + 1:
        raise ValueError(f"a cubic B-spline needs at least 4 control points, got {num_ctrl}")
    if kind == "uniform":
        inner = np.linspace(0.0, 1.0, num_ctrl - DEGREE + 1)[1:-1]
    elif kind == "mu0":
        if (num_ctrl - 1) % DEGREE:
            raise ValueError(f"'mu0' knots need num_ctrl = 3m + 1 (4, 7, 10, ...), got {num_ctrl}")
        pieces = (num_ctrl - 1) // DEGREE
        inner = np.repeat(np.arange(1, pieces) / pieces, DEGREE)
    else:
        raise ValueError(f"unknown knot kind '{kind}' (use 'mu0' or 'uniform')")
    return np.concatenate([np.zeros(DEGREE + 1), inner, np.ones(DEGREE + 1)])


def basis_matrix(knots: np.ndarray, s: np.ndarray, derivative: int = 0) -> np.ndarray:
    """(len(s), K) values (or derivatives) of the K basis functions at parameters s in [0, 1]: scipy's
    BSpline with identity coefficients (s = 1 belongs to the last span, so the curve ends at the last point)."""
    from scipy.interpolate import BSpline

    t = np.asarray(knots, np.float64)
    num_ctrl = len(t) - DEGREE - 1
    return BSpline(t, np.eye(num_ctrl), DEGREE)(np.asarray(s, np.float64), nu=derivative)


def difference_operator(num_ctrl: int) -> np.ndarray:
    """(K-1, K) first differences Γ: (ΓP)_i = P_{i+1} − P_i."""
    return np.eye(num_ctrl, k=1)[:-1] - np.eye(num_ctrl)[:-1]


class BSplineTrace(torch.nn.Module):
    """Renders control points to a trace and fits control points to a (partly invalid) trace."""

    def __init__(self, horizon: int = 32, num_ctrl: int = 10, knots: str = "mu0", reg_lambda: float = 0.2,
                 clip: float = 1.5) -> None:
        super().__init__()
        self.horizon, self.num_ctrl, self.reg_lambda, self.clip = horizon, num_ctrl, reg_lambda, clip
        t = knot_vector(num_ctrl, knots)
        s = np.arange(horizon + 1) / horizon
        self.register_buffer("basis", torch.tensor(basis_matrix(t, s), dtype=torch.float32), persistent=False)
        self.register_buffer("velocity_basis", torch.tensor(basis_matrix(t, s, 1), dtype=torch.float32),
                             persistent=False)
        self.register_buffer("gamma", torch.tensor(difference_operator(num_ctrl), dtype=torch.float32),
                             persistent=False)

    def render(self, ctrl: torch.Tensor) -> torch.Tensor:
        """(b,n,k,c) control points → (b,n,h,c) trace at steps 1..H (step 0 is the anchor)."""
        return torch.einsum("hk,bnkc->bnhc", self.basis[1:], ctrl)

    def velocity(self, ctrl: torch.Tensor) -> torch.Tensor:
        """(b,n,k,c) → (b,n,h,c) derivative d trace / d s at steps 1..H."""
        return torch.einsum("hk,bnkc->bnhc", self.velocity_basis[1:], ctrl)

    def fit(self, trace: torch.Tensor, valid: torch.Tensor, clip: bool = True) -> torch.Tensor:
        """(b,n,h,c) anchor-relative targets at steps 1..H with (b,n,h) validity → (b,n,k,c) control points.
        Solved in float32 outside autocast: (NᵀWN + λ²ΓᵀΓ) P = NᵀW Y per keypoint, anchor row included."""
        with torch.autocast(device_type=trace.device.type, enabled=False):
            w = torch.cat([torch.ones_like(valid[..., :1], dtype=torch.float32), valid.float()], dim=-1)  # (b,n,h+1)
            y = torch.cat([torch.zeros_like(trace[..., :1, :]), torch.nan_to_num(trace.float(), 0.0, 0.0, 0.0)], -2)
            y = y * w[..., None]  # invalid steps contribute nothing (zeroed on both sides)
            N = self.basis
            lhs = torch.einsum("hk,bnh,hl->bnkl", N, w, N) + self.reg_lambda ** 2 * (self.gamma.T @ self.gamma)
            rhs = torch.einsum("hk,bnhc->bnkc", N, y)
            ctrl = torch.linalg.solve(lhs, rhs)
        return ctrl.clamp(-self.clip, self.clip) if clip else ctrl
