"""Closed-loop success of fine-tuned policies (and the registered champion policy) in Meta-World, side by side."""

from __future__ import annotations

import dataclasses
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path

from mu0.bundle.files import model_in
from mu0.config import RolloutConfig
from mu0.evaluation.headline import policy_headline
from mu0.stages.reports import save_report
from mu0.stages.tracking import Tracking, stage_run

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class EvaluatePolicyArgs:
    # Policies to compare as NAME=FOLDER (a policy's model/ folder); a folder that does not exist is skipped,
    # and said.
    policies: tuple[str, ...] = tuple(f"{name}={model_in(f'artifacts/policy-{name}')}"
                                      for name in ("trace", "scratch", "action-pretrained"))
    # JSON report (per-episode outcomes included); a markdown table is written beside it.
    report: Path = Path("reports/policy_metrics.json")
    # Folder for rollout videos (animated GIFs with μ_0's predicted traces on the frames).
    videos: Path = Path("reports/rollout_videos")
    # Closed-loop evaluation: tasks, episodes, seeds, steps, workers.
    rollout: RolloutConfig = RolloutConfig()
    # Also roll out the registered champion (models:/mu0-policy-metaworld@champion) on the same tasks and seeds,
    # so a promotion gate can compare the two; skipped when there is no champion yet.
    champion: bool = False
    # Log the report and videos to an MLflow run.
    mlflow: bool = True

    @classmethod
    def from_preset(cls, preset) -> EvaluatePolicyArgs:
        return cls(rollout=preset.rollout)


@dataclasses.dataclass(frozen=True)
class PolicyEvaluation:
    report_path: Path  # the JSON report (every episode included); its markdown table lies beside it
    report: dict
    table: str  # markdown


def policy_folders(specs: tuple[str, ...]) -> dict[str, Path]:
    folders = {}
    for spec in specs:
        name, sep, folder = spec.partition("=")
        if not sep or not name or not folder:
            raise ValueError(f"--policies {spec!r}: expected NAME=FOLDER")
        if Path(folder).is_dir():
            folders[name] = Path(folder)
        else:
            log.warning("policy %s: %s not found (train it with mu0 finetune); skipped", name, folder)
    if not folders:
        raise FileNotFoundError(f"none of the policy folders exist: {', '.join(specs)}")
    return folders


def evaluate_policy_stage(args: EvaluatePolicyArgs, tracking: Tracking = Tracking(),
                          on_done: Callable | None = None) -> PolicyEvaluation:
    """`on_done(name, outcome)` after every episode."""
    from mu0.evaluation.policy_eval import evaluate_policies, markdown_table

    folders = policy_folders(args.policies)
    tracking = dataclasses.replace(tracking, enabled=tracking.enabled and args.mlflow)
    with tempfile.TemporaryDirectory() as tmp, \
            stage_run("evaluate-policy", tracking, {"stage": "evaluate-policy"}) as tracker:
        if args.champion:
            from mu0.mlops.tracking import configure
            from mu0.serving.publish import POLICY_MODEL, champion_folder

            configure()
            champion = champion_folder(Path(tmp), POLICY_MODEL)
            if champion is not None:
                folders["champion"] = champion
            log.info("champion policy: %s", champion or "none registered yet")
        report = evaluate_policies(folders, args.rollout, args.videos, on_done=on_done)
        table = markdown_table(report)
        for name, entry in report["policies"].items():
            tracker.log_metrics({f"{name}/mean_success": entry["mean_success"],
                                 f"{name}/success_ci_low": entry["overall"]["ci95"][0],
                                 f"{name}/success_ci_high": entry["overall"]["ci95"][1],
                                 f"{name}/mean_length": entry["overall"]["mean_length"]}, 0)
        # the videos become run artifacts
        save_report(tracker, args.report, report, table, args.videos, headline=policy_headline(report))
    return PolicyEvaluation(Path(args.report), report, table)
