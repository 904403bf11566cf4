"""Tiny models for the serving tests: a μ_0 config small enough to pretrain in seconds and a policy folder."""

from __future__ import annotations

import json
from pathlib import Path

from mu0.config import BackboneConfig, TraceDataConfig, TraceExpertConfig, WorldModelConfig

MODEL = WorldModelConfig(backbone=BackboneConfig(image_size=32), expert=TraceExpertConfig(width=32, layers=1),
                         horizon=8, history=4)
DATA = TraceDataConfig(num_points=8, horizon=8, history=4, train_fraction=0.5, val_fraction=0.2)


def tiny_policy(folder: Path, wrist: bool = False) -> Path:
    """A trace-conditioned policy folder (4×4 grid, chunks of 4 actions) with its statistics."""
    import torch

    from mu0.config import ActionExpertConfig
    from mu0.models.action_expert import ActionExpert

    torch.manual_seed(0)
    cfg = ActionExpertConfig(world=MODEL, grid=4, width=32, layers=1, chunk=4, wrist_tokens=2 if wrist else 0)
    folder = ActionExpert(cfg).save_pretrained(folder)
    data = {"camera": "front", **({"wrist_camera": "gripperPOV"} if wrist else {})}
    (folder / "train_config.json").write_text(json.dumps({"image_size": 32, "world_model": "mu0/model",
                                                          "policy_data": data, "demos": {}}))
    (folder / "delta_stats.json").write_text(json.dumps({"scale": [0.1, 0.1, 0.05], "percentile": 95,
                                                        "horizon": 16, "samples": 1}))
    return folder
