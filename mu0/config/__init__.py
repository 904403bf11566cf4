"""Frozen configuration dataclasses for every stage; presets live in `presets.py`.

The comment above each field is what `mu0 <command> --help` prints for it (tyro reads them), so it
says what the option means and in which unit. Validation happens in `__post_init__` and names the
field, so a bad value fails at parse time, not half-way through a run.
"""


from __future__ import annotations

import dataclasses

from mu0.config.base import ConfigError, diff_fields, from_dict, to_dict
from mu0.config.data import FlowTrainConfig, TraceDataConfig, TraceExtractConfig, ValidationConfig
from mu0.config.model import (
    BackboneConfig,
    TokenizedVLMConfig,
    TraceExpertConfig,
    TrackTransformerConfig,
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
from mu0.config.train import TrainConfig

__all__ = [
    "MT10_TASKS", "VARIETY_TASKS", "BackboneConfig", "ConfigError", "IngestOutput", "MetaWorldSourceConfig",
    "Mu0Config",
    "S3SourceConfig", "TraceDataConfig", "TraceExpertConfig", "TraceExtractConfig", "TrainConfig",
    "ValidationConfig", "VideoSourceConfig", "FlowTrainConfig", "WorldModelConfig", "to_dict", "from_dict",
    "diff_fields",
    "TokenizedVLMConfig", "TrackTransformerConfig", "ActionExpertConfig", "PolicyDataConfig", "RolloutConfig",
    "POLICY_MODES",
]


@dataclasses.dataclass(frozen=True)
class Mu0Config:
    """The resolved configuration of a whole run; presets build one, the CLI overrides its fields."""

    # Name of the preset this configuration started from.
    preset: str = "tiny"
    # Meta-World source: tasks, episodes, cameras, render size.
    metaworld: MetaWorldSourceConfig = MetaWorldSourceConfig()
    # Video files or image folders as a source.
    video: VideoSourceConfig = VideoSourceConfig()
    # An S3 prefix of videos as a source.
    s3: S3SourceConfig = S3SourceConfig()
    # Where ingested episodes and quarantined ones go.
    output: IngestOutput = IngestOutput()
    # TraceExtract: keypoints, tracking, lifting, retargeting, captions.
    extract: TraceExtractConfig = TraceExtractConfig()
    # The Great Expectations gate's thresholds.
    validate: ValidationConfig = ValidationConfig()
    # How training samples are cut from trace episodes.
    data: TraceDataConfig = TraceDataConfig()
    # μ_0's shape.
    model: WorldModelConfig = WorldModelConfig()
    # μ_0's (and the baselines') optimisation.
    train: TrainConfig = TrainConfig()
    # The action expert's shape and how it reads μ_0.
    policy: ActionExpertConfig = ActionExpertConfig()
    # Which demonstrations fine-tuning uses.
    policy_data: PolicyDataConfig = PolicyDataConfig()
    # The action expert's optimisation.
    finetune: TrainConfig = TrainConfig(steps=300, micro_batch=16, lr=3e-4, warmup_steps=20, checkpoint_every=100,
                                        log_every=20)
    # Closed-loop evaluation in Meta-World.
    rollout: RolloutConfig = RolloutConfig()
