"""Frozen configuration dataclasses for every stage; presets live in `presets.py`.

The comment above each field is what `mu0 <command> --help` prints for it (tyro reads them), so it
says what the option means and in which unit. Validation happens in `__post_init__` and names the
field, so a bad value fails at parse time, not half-way through a run.
"""


from __future__ import annotations

import dataclasses

from mu0.config.base import ConfigError, diff_fields, from_dict, to_dict
from mu0.config.data import TraceDataConfig, TraceExtractConfig, ValidationConfig
from mu0.config.model import (
    BackboneConfig,
    TokenizedVLMConfig,
    TraceExpertConfig,
    TrackTransformerConfig,
    TrainConfig,
    WorldModelConfig,
)
from mu0.config.policy import POLICY_MODES, ActionExpertConfig, PolicyDataConfig, RolloutConfig
from mu0.config.sources import (
    MT10_TASKS,
    VARIETY_TASKS,
    IngestOutput,
    MetaWorldSourceConfig,
    S3SourceConfig,
    VideoSourceConfig,
)

__all__ = [
    "MT10_TASKS", "VARIETY_TASKS", "BackboneConfig", "ConfigError", "IngestOutput", "MetaWorldSourceConfig",
    "Mu0Config",
    "S3SourceConfig", "TraceDataConfig", "TraceExpertConfig", "TraceExtractConfig", "TrainConfig",
    "ValidationConfig", "VideoSourceConfig", "WorldModelConfig", "to_dict", "from_dict", "diff_fields",
    "TokenizedVLMConfig", "TrackTransformerConfig", "ActionExpertConfig", "PolicyDataConfig", "RolloutConfig",
    "POLICY_MODES",
]


@dataclasses.dataclass(frozen=True)
class Mu0Config:
    """The resolved configuration of a whole run; presets build one, the CLI overrides its fields."""

    # Name of the preset this configuration started from.
    preset: str = "tiny"
    metaworld: MetaWorldSourceConfig = MetaWorldSourceConfig()
    video: VideoSourceConfig = VideoSourceConfig()
    s3: S3SourceConfig = S3SourceConfig()
    output: IngestOutput = IngestOutput()
    extract: TraceExtractConfig = TraceExtractConfig()
    validate: ValidationConfig = ValidationConfig()
    data: TraceDataConfig = TraceDataConfig()
    model: WorldModelConfig = WorldModelConfig()
    train: TrainConfig = TrainConfig()
    policy: ActionExpertConfig = ActionExpertConfig()
    policy_data: PolicyDataConfig = PolicyDataConfig()
    finetune: TrainConfig = TrainConfig(steps=300, micro_batch=16, lr=3e-4, warmup_steps=20, checkpoint_every=100,
                                        log_every=20)
    rollout: RolloutConfig = RolloutConfig()
