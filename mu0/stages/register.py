"""Registering a trained μ_0 folder (or a fine-tuned policy) in MLflow as `challenger`, with lineage tags (git
commit, DVC hash of data/raw, validation result, config hash, parent run), the gate scores of its report, a
typed signature and a model card (metrics against the baselines, data hash, trace source, main config) as
the version's description."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal

from mu0.bundle.files import CONFIG_FILE, model_in
from mu0.episodes.atomic import write_json_atomic
from mu0.stages.errors import BadArguments
from mu0.stages.tracking import Tracking, stage_run


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

    @property
    def is_policy(self) -> bool:
        return self.target == "policy"

    @property
    def model_dir(self) -> Path:
        return Path(self.model or model_in("artifacts/policy-trace" if self.is_policy else "artifacts/mu0"))

    @property
    def report_path(self) -> Path:
        return Path(self.report or ("reports/policy_metrics.json" if self.is_policy else "reports/metrics.json"))

    @property
    def summary_path(self) -> Path:
        return Path(self.out or ("reports/policy_registration.json" if self.is_policy else "reports/registration.json"))


@dataclasses.dataclass(frozen=True)
class Registration:
    model: str  # the registered model's name
    version: str
    alias: str
    uri: str
    score: float  # the gate's score (lower is better)
    champion_score: float | None  # the champion's on the same episodes, if there is one
    metric: str
    summary_path: Path  # the same as JSON
    mean_success: float | None = None  # a policy's closed-loop success


def register_stage(args: RegisterArgs, tracking: Tracking = Tracking()) -> Registration:
    from mu0.mlops.tracking import configure
    from mu0.serving.publish import publish_policy, publish_world_model

    for path in (args.model_dir / CONFIG_FILE, args.report_path):
        if not path.exists():
            hint = "mu0 finetune / mu0 evaluate policy" if args.is_policy else "mu0 pretrain / mu0 evaluate traces"
            raise BadArguments(f"{path} does not exist (run {hint})")
    configure()
    with stage_run(f"register-{args.target}", dataclasses.replace(tracking, enabled=True),
                   {"stage": "register"}) as tracker:
        if args.is_policy:
            summary = publish_policy(args.model_dir, args.report_path, args.validation, tracker.run_id,
                                     tracking.parent_run_id, args.policy_name)
        else:
            summary = publish_world_model(args.model_dir, args.report_path, args.validation, tracker.run_id,
                                          tracking.parent_run_id)
    write_json_atomic(args.summary_path, summary)
    return Registration(summary["model"], str(summary["version"]), summary["alias"], summary["uri"],
                        float(summary["score"]), summary["champion_score"], summary["metric"], args.summary_path,
                        summary.get("mean_success"))
