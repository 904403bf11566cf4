"""`mu0 evaluate policy`: closed-loop success of fine-tuned policies in Meta-World, side by side."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from mu0.bundle.files import model_in
from mu0.cli.common import console, parse_with_preset, results, save_report
from mu0.config import RolloutConfig


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


def policy_folders(specs: tuple[str, ...]) -> dict[str, Path]:
    folders = {}
    for spec in specs:
        name, sep, folder = spec.partition("=")
        if not sep or not name or not folder:
            raise ValueError(f"--policies {spec!r}: expected NAME=FOLDER")
        if Path(folder).is_dir():
            folders[name] = Path(folder)
        else:
            console.print(f"policy {name}: {folder} not found (train it with mu0 finetune); skipped")
    if not folders:
        raise FileNotFoundError(f"none of the policy folders exist: {', '.join(specs)}")
    return folders


def run(args: list[str]) -> int:
    from rich.markdown import Markdown

    from mu0.cli.tracking import stage_tracker
    from mu0.evaluation.policy_eval import evaluate_policies, markdown_table

    parsed = parse_with_preset(EvaluatePolicyArgs, lambda p: EvaluatePolicyArgs(rollout=p.rollout), args,
                               "mu0 evaluate policy", "Roll policies out in Meta-World on fixed, recorded seeds "
                               "(disjoint from their training seeds) in parallel processes: success with Wilson "
                               "95% intervals, episode length, videos with predicted traces.", prefixed=True)
    if parsed is None:
        return 2
    folders = policy_folders(parsed.policies)
    import tempfile

    def done(name, outcome) -> None:
        status = "success" if outcome.success else ("error: " + outcome.error if outcome.error else "failure")
        console.print(f"{name:>18} {outcome.task} seed {outcome.seed}: {status} after {outcome.length} steps")

    with tempfile.TemporaryDirectory() as tmp, \
            stage_tracker("evaluate-policy", parsed.mlflow, {"stage": "evaluate-policy"}) as tracker:
        if parsed.champion:
            from mu0.mlops.tracking import configure
            from mu0.serving.publish import POLICY_MODEL, champion_folder

            configure()
            champion = champion_folder(Path(tmp), POLICY_MODEL)
            if champion is not None:
                folders["champion"] = champion
            console.print(f"champion policy: {champion or 'none registered yet'}")
        report = evaluate_policies(folders, parsed.rollout, parsed.videos, on_done=done)
        table = markdown_table(report)
        for name, entry in report["policies"].items():
            tracker.log_metrics({f"{name}/mean_success": entry["mean_success"],
                                 f"{name}/success_ci_low": entry["overall"]["ci95"][0],
                                 f"{name}/success_ci_high": entry["overall"]["ci95"][1],
                                 f"{name}/mean_length": entry["overall"]["mean_length"]}, 0)
        save_report(tracker, parsed.report, report, table, parsed.videos)  # the videos become run artifacts
    results.print(Markdown(table))
    console.print(f"report → {parsed.report}; videos → {parsed.videos}")
    return 0
