"""Tiny policy configs and a saved μ_0 folder, shared by the action-expert tests."""

import json
from pathlib import Path

import torch

from mu0.config import (
    ActionExpertConfig,
    BackboneConfig,
    PolicyDataConfig,
    TraceExpertConfig,
    TrainConfig,
    WorldModelConfig,
)

WORLD = WorldModelConfig(backbone=BackboneConfig(image_size=32), expert=TraceExpertConfig(width=32, layers=2),
                         horizon=16, history=4)
POLICY = ActionExpertConfig(world=WORLD, grid=4, pool=2, width=32, layers=2, chunk=4)
DATA = PolicyDataConfig(demos_per_task=0, camera="front", successful_only=False)
TRAIN = TrainConfig(steps=6, micro_batch=4, warmup_steps=1, log_every=2, lr=1e-3)


def save_world_model(folder: Path, seed: int = 0) -> Path:
    """An untrained μ_0 of WORLD's shape (weights drawn from `seed`), with the delta statistics a trained one
    carries."""
    from mu0.models.world_model import Mu0WorldModel

    torch.manual_seed(seed)
    Mu0WorldModel(WORLD).save_pretrained(folder)
    (folder / "delta_stats.json").write_text(json.dumps({"scale": [0.1, 0.1, 0.05], "percentile": 95,
                                                        "horizon": 16, "samples": 1}))
    return folder
