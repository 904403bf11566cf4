"""Prefect tasks: each calls one mu0 stage function and returns its typed result to the flow. Each logs the
command that runs the same stage by hand, so a failed task can be reproduced from a terminal."""

from __future__ import annotations

import logging
from pathlib import Path

from prefect import get_run_logger, task

from flows.common import StageFailed, retry_on_io
from mu0.stages.tracking import Tracking


def _logger():
    """The run's logger inside a flow; a plain one when a task's function is called directly (tests)."""
    from prefect.exceptions import MissingContextError

    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("flows")


def _command(stage: str, preset: str, what: str = "") -> str:
    command = f"mu0 {stage} --preset {preset}" + (f" {what}" if what else "")
    _logger().info(command)
    return command


@task(retries=2, retry_delay_seconds=5, retry_condition_fn=retry_on_io)
def ingest(preset: str, source: str):
    """`source`: "metaworld", "s3://bucket/prefix", "video PATH...", or "none" (use data/raw as it is,
    e.g. after `dvc pull`). Returns the stages.ingest.IngestResult (None for "none")."""
    from mu0.presets import get_preset
    from mu0.stages.ingest import ingest_args, ingest_stage

    if source == "none":
        return None
    command = _command("ingest", preset, source)
    result = ingest_stage(ingest_args(get_preset(preset), source))
    _logger().info("ingest: %s", result.report.summary())
    if not result.usable:
        raise StageFailed(f"{command}: every episode was quarantined")
    return result


def _episode_key(context, parameters) -> str | None:
    from mu0.trace_extract.freshness import extraction_key

    return extraction_key(Path(parameters["raw"]), Path(parameters["out"]), parameters["cfg"])


@task(cache_key_fn=_episode_key, persist_result=True, result_serializer="json", retries=1,
      retry_condition_fn=retry_on_io)
def extract_episode(raw: Path, out: Path, quarantine: Path, cfg) -> dict:
    """One episode (ExtractOutcome as a dict: results persist as JSON, never as a pickle)."""
    import dataclasses

    from mu0.trace_extract.pipeline import extract_episode as run

    return dataclasses.asdict(run(Path(raw), Path(out), Path(quarantine), cfg))


@task
def validate(preset: str, args, tracking: Tracking = Tracking(enabled=False)):
    """The gate (stages.validate.ValidationResult); a failed gate fails the task. Its reports and Data Docs go
    to an MLflow run only when the caller passes tracking."""
    from mu0.stages.validate import validate_stage

    command = _command("validate", preset)
    result = validate_stage(args, tracking)
    if not result.success:
        raise StageFailed(f"{command} exited with 1: the validation gate failed (see {result.report_path})")
    return result


@task
def pretrain(preset: str, args, tracking: Tracking):
    """A retried task resumes from `args.out`'s checkpoints; a new chain run trains in a new folder."""
    from mu0.stages.pretrain import pretrain_stage

    _command("pretrain", preset, f"--kind {args.kind} --out {args.out_dir}")
    return pretrain_stage(args, tracking)


@task
def finetune(preset: str, args, tracking: Tracking):
    """An action expert on the action-labelled episodes (trace-conditioned, scratch, or from an
    action-pretrained policy)."""
    from mu0.stages.finetune import finetune_stage

    _command("finetune", preset, f"--mode {args.mode} --out {args.out_dir}")
    return finetune_stage(args, tracking)


@task
def evaluate_traces(preset: str, args, tracking: Tracking):
    from mu0.stages.evaluate_traces import evaluate_traces_stage

    _command("evaluate traces", preset, f"--model {args.model}")
    return evaluate_traces_stage(args, tracking)


@task
def evaluate_policy(preset: str, args, tracking: Tracking):
    """Closed-loop Meta-World rollouts of every policy (and the champion policy) on the same seeds."""
    from mu0.stages.evaluate_policy import evaluate_policy_stage

    _command("evaluate policy", preset, "--policies " + " ".join(args.policies))
    return evaluate_policy_stage(args, tracking)


@task(retries=2, retry_delay_seconds=5, retry_condition_fn=retry_on_io)
def register(args, tracking: Tracking):
    from mu0.stages.register import register_stage

    _logger().info("mu0 register --target %s --model %s", args.target, args.model_dir)
    return register_stage(args, tracking)


@task
def promote(args):
    """Promoted, or refused with the reason (mlops.registry.Promotion); a refusal is not a failure."""
    from mu0.stages.promote import promote_stage

    _logger().info("mu0 promote --model %s", args.model)
    return promote_stage(args)
