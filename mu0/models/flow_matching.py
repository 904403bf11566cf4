"""Flow matching as π_0 does it, for μ_0's control points and the action expert's chunks alike.

Noising: x_t = t·ε + (1−t)·x_0 with t ~ Beta(1.5, 1)·0.999 + 0.001 (more weight on the noisy end); the
velocity target is u = ε − x_0. Sampling integrates from t = 1 (noise) towards t = 0 in Euler steps of 1/total.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

T_MIN = 0.001  # t never reaches 0, where the clean-prediction form's velocity (x_t − x_0)/t is undefined


def sample_time(b: int, device) -> torch.Tensor:
    """(b,) flow times t ~ Beta(1.5, 1)·(1 − T_MIN) + T_MIN."""
    beta = torch.distributions.Beta(torch.tensor(1.5), torch.tensor(1.0))
    return (beta.sample((b,)) * (1 - T_MIN) + T_MIN).to(device)


def noised(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """x_t for per-sample times t (b,), broadcast over x0's trailing axes."""
    t = t.reshape(-1, *([1] * (x0.dim() - 1)))
    return t * noise + (1 - t) * x0


def euler(x: torch.Tensor, velocity: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], steps: int,
          total: int | None = None) -> torch.Tensor:
    """Integrate from t = 1: `steps` Euler steps of size 1/total (default: the whole way, total = steps), with
    velocity(x, t) for t (b,); returns x at t = 1 − steps/total."""
    total = total or steps
    for t in euler_times(steps, total, x.shape[0], x.device):
        x = x - velocity(x, t) / total
    return x


def euler_times(steps: int, total: int, b: int, device=None) -> torch.Tensor:
    """(steps, b) the flow times at which `euler` reads the velocity: 1, 1 − 1/total, …"""
    start = (1.0 - torch.arange(steps, dtype=torch.float64) / total).float()  # rounded once, as float(1 − i/total)
    return start[:, None].expand(steps, b).to(device)
