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
from mu0.bundle.files import model_in


@flow(name="mu0-pretrain")
def pretrain_chain(preset: str = "debug", source: str = "metaworld", overrides: list[str] | None = None,
                   warm_start: bool = False, baselines: bool = False, force_promote: bool = False,
                   reason: str = "") -> dict:
    """`overrides` are extra `mu0 pretrain` options (e.g. ["--train.steps", "50"]); `warm_start` starts
    from the champion's weights when there is one; `baselines` also trains the learned baselines on the
    same data and budget, so the evaluation compares against them."""
    from mu0.cli.tracking import PARENT_ENV
    from mu0.mlops.tracking import configure, run

    log = get_run_logger()
    configure()
    with run(f"chain-{preset}", tags={"stage": "chain", "preset": preset, "source": source}) as parent:
        os.environ[PARENT_ENV] = parent.run_id  # stage runs nest under the chain's run
        try:
            tasks.ingest(preset, source)
            extract_flow(preset)
            validate_flow(preset)
            extra = list(overrides or [])
            if warm_start:
                extra += _champion_init()
            out = f"artifacts/chain/{flow_run.get_id() or parent.run_id}"
            tasks.pretrain(preset, extra, f"{out}/mu0")
            kinds = ["track-transformer", "tokenized-vlm"] if baselines else []
            for kind in kinds:
                tasks.pretrain(preset, list(overrides or []), f"{out}/{kind}", kind)
            policies = {"trace": f"{out}/policy-trace"}
            if baselines:
                policies["scratch"] = f"{out}/policy-scratch"
            for mode, folder in policies.items():
                tasks.finetune(preset, mode, folder, str(model_in(f"{out}/mu0")))
            tasks.evaluate(preset, str(model_in(f"{out}/mu0")), [str(model_in(f"{out}/{kind}")) for kind in kinds])
            publish_report("trace-metrics", Path("reports/metrics.md"), "trace prediction metrics")
            tasks.evaluate_policy(preset, {name: str(model_in(folder)) for name, folder in policies.items()})
            publish_report("policy-metrics", Path("reports/policy_metrics.md"), "closed-loop Meta-World success")
            registration = tasks.register(str(model_in(f"{out}/mu0")))
            promotion = tasks.promote(force_promote, reason)
            policy = tasks.register_policy(str(model_in(f"{out}/policy-trace")), "trace")
            policy_promotion = tasks.promote(force_promote, reason, policy["model"])
        finally:
            os.environ.pop(PARENT_ENV, None)
        parent.set_tags({"registered_version": registration["version"], "promoted": promotion["promoted"],
                         "registered_policy_version": policy["version"],
                         "policy_promoted": policy_promotion["promoted"]})
    summary = {**registration, **promotion, "policy": {**policy, **policy_promotion}}
    log.info("registered %s v%s as challenger; champion is v%s", registration["model"], registration["version"],
             promotion["champion"])
    log.info("registered %s v%s as challenger (mean success %.2f); champion is v%s", policy["model"],
             policy["version"], policy["mean_success"], policy_promotion["champion"])
    return summary


def _champion_init() -> list[str]:
    from mu0.serving.publish import champion_folder

    folder = champion_folder(Path("artifacts/champion"))
    return ["--init-from", str(folder)] if folder else []


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
