"""One flow per stage, for running a stage alone from the UI or a schedule."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, unmapped

from flows import tasks
from flows.common import publish_report, task_runner
from mu0.bundle.files import model_in
from mu0.stages.tracking import Tracking


@flow(name="mu0-ingest")
def ingest_flow(preset: str = "debug", source: str = "metaworld") -> None:
    """Ingest episodes (Meta-World, or only the new objects under s3://bucket/prefix), then DVC add + push."""
    tasks.ingest(preset, source)


@flow(name="mu0-extract")
def extract_flow(preset: str = "debug", raw: str = "data/raw", out: str = "artifacts/traces",
                 quarantine: str = "artifacts/quarantine/traces", dask_address: str = "") -> dict:
    """TraceExtract mapped over episodes: one task each, skipped while its output is current (cached). The
    tasks run on a Dask cluster when `dask_address` (or MU0_DASK_ADDRESS) names a scheduler ("local": a
    temporary local cluster), else on local threads."""
    from prefect.artifacts import create_markdown_artifact

    from mu0.episodes import list_episodes, recover_staging
    from mu0.presets import get_preset
    from mu0.stages.extract import ExtractResult
    from mu0.trace_extract.pipeline import ExtractOutcome

    cfg = get_preset(preset).extract
    recover_staging(Path(out))
    with task_runner(dask_address, cfg.workers) as runner:
        futures = runner.map(tasks.extract_episode, {"raw": list_episodes(Path(raw)), "out": unmapped(Path(out)),
                                                     "quarantine": unmapped(Path(quarantine)), "cfg": unmapped(cfg)})
        result = ExtractResult.of(ExtractOutcome(**f.result()) for f in futures)
    get_run_logger().info("extract: %s", result.counts)
    rows = "\n".join(f"| {o.episode_id} | {o.status} | {o.stats.get('reason', '')} |" for o in result.outcomes)
    table = f"| episode | status | reason |\n|---|---|---|\n{rows}\n"
    create_markdown_artifact(key="extract-report", description="TraceExtract outcomes",
                             markdown=f"# TraceExtract\n\n{result.counts}\n\n{table}")
    if result.outcomes and not result.usable:
        raise RuntimeError(f"every one of {len(result.outcomes)} episodes was quarantined; see {quarantine}")
    return result.counts


@flow(name="mu0-validate")
def validate_flow(preset: str = "debug", report: str = "reports/validation.json", parent_run_id: str = "") -> bool:
    """The Great Expectations gate; a failure fails the flow, with the report as an artifact. The reports and
    the Data Docs (validation_docs/ beside the report) go to an MLflow run, nested under `parent_run_id` if given."""
    import dataclasses

    from mu0.presets import get_preset
    from mu0.stages.validate import ValidateArgs

    args = dataclasses.replace(ValidateArgs.from_preset(get_preset(preset)), report=Path(report))
    try:
        return tasks.validate(preset, args, Tracking(True, parent_run_id or None)).success
    finally:
        publish_report("validation-report", Path(report).with_suffix(".md"), "Great Expectations gate")


@flow(name="mu0-finetune")
def finetune_flow(preset: str = "debug", mode: str = "trace", world_model: str = "models:/mu0-world-model@champion",
                  out: str = "", init_from: str = "") -> str:
    """An action expert on the action-labelled episodes: on the champion μ_0 (`trace`), from scratch, or from
    an action-pretrained policy (`action-pretrained` with `init_from`). Returns the policy folder."""
    import dataclasses

    from mu0.presets import get_preset
    from mu0.stages.finetune import FinetuneArgs

    args = dataclasses.replace(FinetuneArgs.from_preset(get_preset(preset)), mode=mode, world_model=world_model,
                               out=Path(out) if out else None, init_from=Path(init_from) if init_from else None)
    return str(tasks.finetune(preset, args, Tracking()).model_dir)


@flow(name="mu0-evaluate")
def evaluate_flow(preset: str = "debug", model: str = str(model_in("artifacts/mu0")),
                  policies: dict[str, str] | None = None, samples: int = 3) -> None:
    """μ_0 against the current champion, on the same test episodes (`samples` flow samples per query for
    minADE); then, when `policies` (name → policy model folder) are given, their closed-loop success against
    the champion policy."""
    import dataclasses

    from mu0.presets import get_preset
    from mu0.stages.evaluate_policy import EvaluatePolicyArgs
    from mu0.stages.evaluate_traces import EvaluateTracesArgs

    p = get_preset(preset)
    traces = dataclasses.replace(EvaluateTracesArgs.from_preset(p), model=Path(model), baselines=(), champion=True,
                                 samples=samples)
    done = tasks.evaluate_traces(preset, traces, Tracking())
    publish_report("trace-metrics", done.report_path.with_suffix(".md"), "trace prediction metrics")
    if policies:
        args = dataclasses.replace(EvaluatePolicyArgs.from_preset(p), champion=True,
                                   policies=tuple(f"{name}={folder}" for name, folder in policies.items()))
        rolled = tasks.evaluate_policy(preset, args, Tracking())
        publish_report("policy-metrics", rolled.report_path.with_suffix(".md"), "closed-loop Meta-World success")


@flow(name="mu0-promote")
def promote_flow(force: bool = False, reason: str = "", model: str = "mu0-world-model") -> dict:
    """Move `champion` to the challenger of `model` (mu0-world-model or mu0-policy-metaworld) if the gate
    passes (or with force + reason, recorded)."""
    import dataclasses

    from mu0.stages.promote import PromoteArgs

    return dataclasses.asdict(tasks.promote(PromoteArgs(model=model, force=force, reason=reason)))
