"""Pretraining μ_0 — or a learned baseline, sized like it — on the trace episodes the validation gate accepted."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from mu0.config import TraceDataConfig, TrainConfig, WorldModelConfig
from mu0.stages.errors import ValidationRefused
from mu0.stages.tracking import Tracking, stage_run


@dataclasses.dataclass(frozen=True)
class PretrainArgs:
    # What to train: μ_0, or a baseline on the same data and budget (the ATM-style track transformer, or
    # μ_0's backbone decoding control points as tokens); baselines take their sizes from --model.
    kind: Literal["mu0", "track-transformer", "tokenized-vlm"] = "mu0"
    # Folder of trace episodes.
    traces: Path = Path("artifacts/traces")
    # Output folder: model/ (config.json + model.safetensors + statistics) and checkpoints/; default
    # artifacts/<kind>.
    out: Path | None = None
    # Validation report whose accepted_episodes restrict the training data (ignored if missing).
    validation_report: Path = Path("reports/validation.json")
    # How samples are built from traces.
    data: TraceDataConfig = TraceDataConfig()
    # The model's shape.
    model: WorldModelConfig = WorldModelConfig()
    # Optimisation.
    train: TrainConfig = TrainConfig()
    # Start from the weights of this model folder (same config; e.g. the champion) instead of from scratch.
    init_from: Path | None = None
    # Track the run in MLflow (params, metrics, system metrics, the model folder).
    mlflow: bool = True
    # Stop after this step with a checkpoint and the model saved, on the schedule of --train.steps (a
    # preemptible job's slice); running again resumes.
    stop_after: int | None = None

    @classmethod
    def from_preset(cls, preset) -> PretrainArgs:
        return cls(data=preset.data, model=preset.model, train=preset.train)

    @property
    def out_dir(self) -> Path:
        return Path(self.out or Path("artifacts") / self.kind)


def accepted_episodes(report: Path) -> set[str] | None:
    """The episodes the validation gate accepted; None (everything) without a report or a list in it."""
    report = Path(report)
    if not report.exists():
        return None
    data = json.loads(report.read_text())
    if not data.get("success", False):
        raise ValidationRefused(f"{report} says validation failed; fix the data or re-run mu0 validate")
    if "accepted_episodes" not in data:
        return None
    if not data["accepted_episodes"]:  # an empty list accepts nothing; it is not "no restriction"
        raise ValidationRefused(f"{report} accepts no episode; nothing to train on (re-run mu0 validate)")
    return set(data["accepted_episodes"])


def pretrain_stage(args: PretrainArgs, tracking: Tracking = Tracking(),
                   on_step: Callable[[int, dict], None] | None = None):
    """Train; returns training.pretrain.PretrainResult (model folder, steps, losses, val loss and curve)."""
    from mu0.models.registry import config_for
    from mu0.training.pretrain import pretrain

    accepted = accepted_episodes(args.validation_report)
    tags = {"stage": "pretrain", "kind": args.kind}
    with stage_run(f"pretrain-{args.kind}", dataclasses.replace(tracking, enabled=tracking.enabled and args.mlflow),
                   tags) as tracker:
        return pretrain(args.traces, args.out_dir, args.data, config_for(args.kind, args.model), args.train,
                        tracker=tracker, accepted=accepted, init_from=args.init_from, on_step=on_step,
                        stop_after=args.stop_after)
