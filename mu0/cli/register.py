"""`mu0 register`: log a trained μ_0 folder (or, with --target policy, a fine-tuned policy) to MLflow as a
pyfunc model and register it as `challenger` — mu0-world-model or mu0-policy-metaworld — with lineage tags
(git commit, DVC hash of data/raw, validation result, config hash, parent run) and the gate scores from its
evaluation report."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Literal

from mu0.bundle.files import CONFIG_FILE, model_in
from mu0.cli.common import console, parse, results


@dataclasses.dataclass(frozen=True)
class RegisterArgs:
    # What to register: μ_0 (mu0-world-model, gated on trace ADE) or a fine-tuned policy (mu0-policy-metaworld,
    # gated on its closed-loop failure rate in Meta-World).
    target: Literal["world-model", "policy"] = "world-model"
    # The trained model folder (default: artifacts/mu0/model, or artifacts/policy-trace/model for a policy).
    model: Path | None = None
    # Its evaluation report (default: reports/metrics.json from mu0 evaluate traces, or reports/policy_metrics.json
    # from mu0 evaluate policy; with --champion there, the gate compares against the champion).
    report: Path | None = None
    # For a policy: its name in the policy report (mu0 evaluate policy --policies NAME=FOLDER).
    policy_name: str = "trace"
    # The validation report of the data it was trained on.
    validation: Path = Path("reports/validation.json")
    # Where the registration summary goes (default: reports/registration.json, or
    # reports/policy_registration.json for a policy).
    out: Path | None = None


def run(args: list[str]) -> int:
    import os

    from mu0.cli.tracking import PARENT_ENV, stage_tracker
    from mu0.episodes.atomic import write_json_atomic
    from mu0.mlops.tracking import configure
    from mu0.serving.publish import publish_policy, publish_world_model

    parsed = parse(RegisterArgs, RegisterArgs(), args, "mu0 register", __doc__.removeprefix("`mu0 register`: "))
    if parsed is None:
        return 2
    policy = parsed.target == "policy"
    model = parsed.model or model_in("artifacts/policy-trace" if policy else "artifacts/mu0")
    report = parsed.report or Path("reports/policy_metrics.json" if policy else "reports/metrics.json")
    for path in (model / CONFIG_FILE, report):
        if not path.exists():
            hint = "mu0 finetune / mu0 evaluate policy" if policy else "mu0 pretrain / mu0 evaluate traces"
            console.print(f"[red]error:[/red] {path} does not exist (run {hint})")
            return 2
    configure()
    with stage_tracker(f"register-{parsed.target}", True, {"stage": "register"}) as tracker:
        if policy:
            summary = publish_policy(model, report, parsed.validation, tracker.run_id, os.environ.get(PARENT_ENV),
                                     parsed.policy_name)
        else:
            summary = publish_world_model(model, report, parsed.validation, tracker.run_id,
                                          os.environ.get(PARENT_ENV))
    write_json_atomic(parsed.out or Path("reports/policy_registration.json" if policy else "reports/registration.json"),
                      summary)
    results.print(json.dumps(summary, indent=2))
    return 0
