"""`mu0-pretrain`: the whole chain — ingest → extract → validate → pretrain → finetune → evaluate →
register → promote — under one MLflow parent run, each stage a child run. μ_0 is registered as
mu0-world-model and the action expert fine-tuned on it as mu0-policy-metaworld, each promoted by its own
gate. A failed validation stops it before training (the flow run fails, the report is an artifact)."""

from __future__ import annotations

import os
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from flows import tasks
from flows.common import publish_report
from flows.stage_flows import extract_flow, validate_flow
from mu0.stages.tracking import Tracking


@flow(name="mu0-pretrain")
def pretrain_chain(preset: str = "debug", source: str = "metaworld", overrides: dict | None = None,
                   warm_start: bool = False, baselines: bool = False, force_promote: bool = False,
                   reason: str = "", samples: int = 3) -> dict:
    """`overrides` change μ_0's pretraining arguments by dotted name (e.g. {"train.steps": 50}); `warm_start`
    starts from the champion's weights when there is one; `baselines` also trains the learned baselines on the
    same data and budget, so the evaluation compares against them; `samples`: flow samples per query when
    scoring (minADE). Reports go to reports/runs/<run>/, then up to reports/ as the latest."""
    from mu0.mlops.tracking import configure, run
    from mu0.stages.reports import publish_latest, run_reports

    log = get_run_logger()
    configure()
    with run(f"chain-{preset}", tags={"stage": "chain", "preset": preset, "source": source}) as parent:
        run_id = flow_run.get_id() or parent.run_id
        reports, out = run_reports(run_id), Path("artifacts/chain") / run_id
        tracking = Tracking(True, parent.run_id)  # stage runs nest under the chain's run
        try:
            outcome = _stages(preset, source, overrides, warm_start, baselines, force_promote, reason, samples,
                              reports, out, tracking)
        finally:
            if reports.is_dir():
                publish_latest(reports)
        registration, promotion, policy, policy_promotion = outcome
        parent.set_tags({"registered_version": registration.version, "promoted": promotion.promoted,
                         "registered_policy_version": policy.version, "policy_promoted": policy_promotion.promoted})
    summary = _summary(registration, promotion, policy, policy_promotion)
    log.info("registered %s v%s as challenger; champion is v%s", summary["model"], summary["version"],
             summary["champion"])
    log.info("registered %s v%s as challenger (mean success %.2f); champion is v%s", policy.model, policy.version,
             policy.mean_success, summary["policy"]["champion"])
    return summary


def _stages(preset, source, overrides, warm_start, baselines, force_promote, reason, samples, reports: Path,
            out: Path, tracking: Tracking):
    import dataclasses

    from mu0.presets import get_preset
    from mu0.stages.evaluate_policy import EvaluatePolicyArgs
    from mu0.stages.evaluate_traces import EvaluateTracesArgs
    from mu0.stages.finetune import FinetuneArgs
    from mu0.stages.overrides import with_overrides
    from mu0.stages.pretrain import PretrainArgs
    from mu0.stages.promote import PromoteArgs
    from mu0.stages.register import RegisterArgs

    p = get_preset(preset)
    validation = reports / "validation.json"
    tasks.ingest(preset, source)
    extract_flow(preset)
    validate_flow(preset, str(validation), tracking.parent_run_id or "")
    base = dataclasses.replace(PretrainArgs.from_preset(p), validation_report=validation)
    mu0 = with_overrides(dataclasses.replace(base, out=out / "mu0",
                                             init_from=_champion_init() if warm_start else None), overrides)
    world = tasks.pretrain(preset, mu0, tracking).model_dir
    kinds = ["track-transformer", "tokenized-vlm"] if baselines else []
    rivals = [tasks.pretrain(preset, with_overrides(dataclasses.replace(base, kind=kind, out=out / kind), overrides),
                             tracking).model_dir for kind in kinds]
    policies = {}
    for mode in ["trace", "scratch"] if baselines else ["trace"]:
        args = dataclasses.replace(FinetuneArgs.from_preset(p), mode=mode, out=out / f"policy-{mode}",
                                   world_model=str(world), validation_report=validation)
        policies[mode] = tasks.finetune(preset, args, tracking).model_dir
    scored = tasks.evaluate_traces(preset, dataclasses.replace(
        EvaluateTracesArgs.from_preset(p), model=world, baselines=tuple(rivals), champion=True, samples=samples,
        report=reports / "metrics.json", overlays=reports / "trace_overlays"), tracking)
    publish_report("trace-metrics", scored.report_path.with_suffix(".md"), "trace prediction metrics")
    rolled = tasks.evaluate_policy(preset, dataclasses.replace(
        EvaluatePolicyArgs.from_preset(p), champion=True, report=reports / "policy_metrics.json",
        videos=reports / "rollout_videos", policies=tuple(f"{name}={folder}" for name, folder in policies.items())),
        tracking)
    publish_report("policy-metrics", rolled.report_path.with_suffix(".md"), "closed-loop Meta-World success")
    registration = tasks.register(RegisterArgs(model=world, report=scored.report_path, validation=validation,
                                               out=reports / "registration.json"), tracking)
    promotion = tasks.promote(PromoteArgs(model=registration.model, force=force_promote, reason=reason))
    policy = tasks.register(RegisterArgs(target="policy", model=policies["trace"], report=rolled.report_path,
                                         policy_name="trace", validation=validation,
                                         out=reports / "policy_registration.json"), tracking)
    policy_promotion = tasks.promote(PromoteArgs(model=policy.model, force=force_promote, reason=reason))
    return registration, promotion, policy, policy_promotion


def _summary(registration, promotion, policy, policy_promotion) -> dict:
    """What the chain returns (and `main` prints): the registered versions and whether each was promoted."""
    from mu0.mlops.registry import CHAMPION, alias_version

    def entry(reg, promo) -> dict:
        return {"model": reg.model, "version": reg.version, "alias": reg.alias, "uri": reg.uri, "score": reg.score,
                "champion_score": reg.champion_score, "metric": reg.metric, "mean_success": reg.mean_success,
                "promoted": promo.promoted, "reason": promo.reason, "champion": alias_version(reg.model, CHAMPION)}

    return {**entry(registration, promotion), "policy": entry(policy, policy_promotion)}


def _champion_init() -> Path | None:
    from mu0.serving.publish import champion_folder

    return champion_folder(Path("artifacts/champion"))


def main() -> None:
    """`python -m flows.chain [PRESET]`: the chain on an ephemeral Prefect server (or PREFECT_API_URL's)."""
    import sys

    from mu0.mlops.tracking import tracking_uri
    from mu0.settings import NO_TELEMETRY

    for name, value in NO_TELEMETRY.items():  # the ephemeral server inherits them; offline, telemetry only errs
        os.environ.setdefault(name, value)
    summary = pretrain_chain(preset=sys.argv[1] if len(sys.argv) > 1 else "debug", baselines=True)
    uri = tracking_uri()
    state = "promoted to champion" if summary["promoted"] else "not promoted (see its promotion.refused tag)"
    print(f"\nregistered {summary['model']} version {summary['version']} as '{summary['alias']}', {state}; "
          f"champion: version {summary['champion']}\n"
          f"  {summary['metric']} {summary['score']:.4f} (champion on the same episodes: {summary['champion_score']})\n"
          f"  load it:   mlflow.pyfunc.load_model('models:/{summary['model']}@champion')\n"
          f"  MLflow UI: .venv/bin/mlflow ui --backend-store-uri {uri}\n"
          f"  serve it:  PATH=.venv/bin:$PATH MLFLOW_TRACKING_URI={uri} mlflow models serve "
          f"-m models:/{summary['model']}@champion --env-manager local -h 127.0.0.1 -p 5001\n"
          f"  reports:   reports/metrics.md (μ_0 vs baselines), reports/validation.md, reports/trace_overlays/")
    policy = summary["policy"]
    state = "promoted to champion" if policy["promoted"] else "not promoted (see its promotion.refused tag)"
    print(f"registered {policy['model']} version {policy['version']} as '{policy['alias']}', {state}; mean "
          f"Meta-World success {100 * policy['mean_success']:.1f}%\n"
          f"  reports:   reports/policy_metrics.md (trace-conditioned vs scratch), reports/rollout_videos/")


if __name__ == "__main__":
    main()
