"""The learning-rate schedule of the engine: linear warmup from lr/warmup, then cosine decay to min_lr."""

import numpy as np
import torch

from mu0.config import TrainConfig
from mu0.training.engine import make_scheduler

CFG = TrainConfig(steps=10, warmup_steps=3, lr=1e-3, min_lr=1e-4)
# the LR of optimizer steps 0..10 as the schedule gave it when pinned
PINNED = [0.0003333333333333333, 0.0006666666666666666, 0.001, 0.001, 0.0009554359905560886, 0.0008305704108364302,
          0.0006501344202803415, 0.0004498655797196586, 0.00026942958916356994, 0.00014456400944391147, 0.0001]


def lr_sequence(cfg: TrainConfig) -> list[float]:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=cfg.lr)
    scheduler = make_scheduler(optimizer, cfg)
    lrs = []
    for _ in range(cfg.steps + 1):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def test_lr_sequence_keeps_its_pinned_values():
    np.testing.assert_allclose(lr_sequence(CFG), PINNED, rtol=1e-12, atol=0)


def test_warmup_starts_above_zero_and_decay_ends_at_min_lr():
    lrs = lr_sequence(TrainConfig(steps=6, warmup_steps=1, lr=1e-3, min_lr=1e-5))
    assert lrs[0] == 1e-3  # a one-step warmup wastes no step at LR 0
    assert abs(lrs[-1] - 1e-5) < 1e-15 and all(a >= b for a, b in zip(lrs, lrs[1:], strict=False))
