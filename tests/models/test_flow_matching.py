"""The shared flow-matching pieces: noising ends, time range, and Euler integration of a known flow."""

import pytest
import torch

from mu0.models.flow_matching import T_MIN, euler, noised, sample_time


def test_noised_runs_from_the_data_at_t0_to_the_noise_at_t1():
    x0, noise = torch.randn(3, 4, 5), torch.randn(3, 4, 5)
    t = torch.tensor([0.0, 1.0, 0.25])
    x_t = noised(x0, noise, t)
    assert torch.equal(x_t[0], x0[0]) and torch.equal(x_t[1], noise[1])
    assert torch.allclose(x_t[2], 0.25 * noise[2] + 0.75 * x0[2])


def test_flow_times_lie_in_the_open_interval_and_favour_the_noisy_end():
    torch.manual_seed(0)
    t = sample_time(20_000, "cpu")
    assert t.min() >= T_MIN and t.max() <= 1.0
    assert abs(float(t.mean()) - (0.6 * (1 - T_MIN) + T_MIN)) < 0.01  # Beta(1.5, 1) has mean 0.6


def test_euler_recovers_the_data_of_a_straight_flow_and_stops_part_way_when_asked():
    x0, noise = torch.randn(2, 7), torch.randn(2, 7)
    seen = []

    def velocity(x, t):
        seen.append(float(t[0]))
        return noise - x0  # the straight path's velocity, the same at every t

    assert torch.allclose(euler(noise.clone(), velocity, 10), x0, atol=1e-5)
    assert seen == pytest.approx([1.0 - i / 10 for i in range(10)])
    part = euler(noise.clone(), velocity, 2, total=8)  # two of eight steps: t = 1 → 0.75
    assert torch.allclose(part, noised(x0, noise, torch.full((2,), 0.75)), atol=1e-5)
