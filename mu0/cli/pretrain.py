"""`mu0 pretrain`: μ_0 — or a learned baseline, sized like it — on the trace dataset with DeepSpeed
(episodes the validation gate accepted)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Literal

from mu0.cli.common import console, parse_with_preset
from mu0.config import TraceDataConfig, TrainConfig, WorldModelConfig


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


def _accepted(report: Path) -> set[str] | None:
    """The episodes the validation gate accepted; None (everything) without a report or a list in it."""
    if not report.exists():
        return None
    data = json.loads(report.read_text())
    if not data.get("success", False):
        raise SystemExit(f"mu0 pretrain: {report} says validation failed; fix the data or re-run mu0 validate")
    if "accepted_episodes" not in data:
        return None
    if not data["accepted_episodes"]:  # an empty list accepts nothing; it is not "no restriction"
        raise SystemExit(f"mu0 pretrain: {report} accepts no episode; nothing to train on (re-run mu0 validate)")
    return set(data["accepted_episodes"])


def run(args: list[str]) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from mu0.cli.tracking import stage_tracker
    from mu0.models.registry import config_for
    from mu0.training.pretrain import pretrain

    parsed = parse_with_preset(PretrainArgs, lambda p: PretrainArgs(data=p.data, model=p.model, train=p.train), args,
                               "mu0 pretrain", "Pretrain μ_0 (VLM backbone + B-spline trace expert) or a learned "
                               "baseline with DeepSpeed; resumes from out/checkpoints when present.", prefixed=True)
    if parsed is None:
        return 2
    out = parsed.out or Path("artifacts") / parsed.kind
    columns = (TextColumn(f"[bold]pretrain {parsed.kind}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("loss {task.fields[loss]:.4f}  {task.fields[sps]:.0f} samples/s"))
    tags = {"stage": "pretrain", "kind": parsed.kind}
    with stage_tracker(f"pretrain-{parsed.kind}", parsed.mlflow, tags) as tracker, \
            Progress(*columns, console=console) as progress:
        task = progress.add_task("pretrain", total=parsed.train.steps, loss=float("nan"), sps=0.0)
        result = pretrain(parsed.traces, out, parsed.data, config_for(parsed.kind, parsed.model), parsed.train,
                          tracker=tracker, accepted=_accepted(parsed.validation_report), init_from=parsed.init_from,
                          on_step=lambda step, m: progress.update(task, completed=step, loss=m["loss"],
                                                                  sps=m["samples_per_s"]))
    console.print(f"pretrain: {result.steps} steps (resumed from {result.resumed_from}), final loss "
                  f"{result.losses[-1] if result.losses else float('nan'):.4f}, val loss {result.val_loss:.4f}, "
                  f"{result.samples_per_s:.0f} samples/s → {result.model_dir}")
    if result.val_curve:
        console.print("val uv ADE (moving keypoints, point estimate) by step: " + ", ".join(
            f"{step}: {point.get('val_ade_uv', float('nan')):.4f}" for step, point in sorted(result.val_curve.items())))
    return 0
