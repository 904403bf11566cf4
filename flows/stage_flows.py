"""One flow per stage, for running a stage alone from the UI or a schedule."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, unmapped

from flows import tasks
from flows.common import publish_report, task_runner
from mu0.bundle.files import model_in


@flow(name="mu0-ingest")
def ingest_flow(preset: str = "debug", source: str = "metaworld") -> None:
    """Ingest episodes (Meta-World, or only the new objects under s3://bucket/prefix), then DVC add + push."""
    tasks.ingest(preset, source)


@flow(name="mu0-extract", task_runner=task_runner())
def extract_flow(preset: str = "debug", raw: str = "data/raw", out: str = "artifacts/traces",
                 quarantine: str = "artifacts/quarantine/traces") -> dict:
    """TraceExtract mapped over episodes: one task each, cached on (input, config, code, output) hashes."""
    from mu0.episodes import list_episodes, recover_staging
    from mu0.presets import get_preset

    cfg = get_preset(preset).extract
    recover_staging(Path(out))
    raws = list_episodes(Path(raw))
    futures = tasks.extract_episode.map(raws, unmapped(Path(out)), unmapped(Path(quarantine)), unmapped(cfg))
    outcomes = [f.result() for f in futures]
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o["status"]] = counts.get(o["status"], 0) + 1
    get_run_logger().info("extract: %s", counts)
    rows = "\n".join(f"| {o['episode_id']} | {o['status']} | {o['stats'].get('reason', '')} |" for o in outcomes)
    from prefect.artifacts import create_markdown_artifact

    table = f"| episode | status | reason |\n|---|---|---|\n{rows}\n"
    create_markdown_artifact(key="extract-report", description="TraceExtract outcomes",
                             markdown=f"# TraceExtract\n\n{counts}\n\n{table}")
    if outcomes and counts.get("quarantined", 0) == len(outcomes):
        raise RuntimeError(f"every one of {len(outcomes)} episodes was quarantined; see {quarantine}")
    return counts


@flow(name="mu0-validate")
def validate_flow(preset: str = "debug") -> None:
    """The Great Expectations gate; a failure fails the flow, with the report as an artifact."""
    try:
        tasks.validate(preset)
    finally:
        publish_report("validation-report", Path("reports/validation.md"), "Great Expectations gate")


@flow(name="mu0-finetune")
def finetune_flow(preset: str = "debug", mode: str = "trace", world_model: str = "models:/mu0-world-model@champion",
                  out: str = "", init_from: str = "") -> None:
    """An action expert on the action-labelled episodes: on the champion μ_0 (`trace`), from scratch, or from
    an action-pretrained policy (`action-pretrained` with `init_from`)."""
    tasks.finetune(preset, mode, out or f"artifacts/policy-{mode}", world_model, init_from)


@flow(name="mu0-evaluate")
def evaluate_flow(preset: str = "debug", model: str = str(model_in("artifacts/mu0")),
                  policies: dict[str, str] | None = None) -> None:
    """μ_0 against the current champion, on the same test episodes; then, when `policies` (name → policy
    model folder) are given, their closed-loop success against the champion policy."""
    tasks.evaluate(preset, model, [])
    publish_report("trace-metrics", Path("reports/metrics.md"), "trace prediction metrics")
    if policies:
        tasks.evaluate_policy(preset, policies)
        publish_report("policy-metrics", Path("reports/policy_metrics.md"), "closed-loop Meta-World success")


@flow(name="mu0-promote")
def promote_flow(force: bool = False, reason: str = "", model: str = "mu0-world-model") -> dict:
    """Move `champion` to the challenger of `model` (mu0-world-model or mu0-policy-metaworld) if the gate
    passes (or with force + reason, recorded)."""
    return tasks.promote(force, reason, model)
