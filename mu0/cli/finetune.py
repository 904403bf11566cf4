"""`mu0 finetune`: an action expert on action-labelled demonstrations — on a frozen μ_0 (`--mode trace`),
from scratch, or from an action-pretrained policy — with DeepSpeed."""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
from pathlib import Path
from typing import Literal

from mu0.bundle.files import model_in
from mu0.cli.common import console, parse_with_preset
from mu0.config import ActionExpertConfig, PolicyDataConfig, RolloutConfig, TrainConfig


@dataclasses.dataclass(frozen=True)
class FinetuneArgs:
    # trace: read the frozen μ_0's trace features; scratch: the same decoder without them, random init;
    # action-pretrained: scratch's architecture started from --init-from (a policy trained with action labels
    # on the pretraining episodes: `mu0 finetune --mode scratch --policy-data.demos-per-task 0 ...`).
    mode: Literal["trace", "scratch", "action-pretrained"] = "trace"
    # Folder of action-labelled episodes (robot.npz); others are an error that names them.
    episodes: Path = Path("data/raw")
    # The frozen μ_0: a model folder, or a registry URI such as models:/mu0-world-model@champion. Scratch and
    # action-pretrained policies take only its backbone's shape from it (empty: the preset's shape).
    world_model: str = str(model_in("artifacts/mu0"))
    # Start from this policy folder's weights (required by --mode action-pretrained).
    init_from: Path | None = None
    # Output folder (model/ = config.json + model.safetensors + train_config.json); default
    # artifacts/policy-<mode>.
    out: Path | None = None
    # Validation report whose accepted_episodes restrict the demonstrations (ignored if missing).
    validation_report: Path = Path("reports/validation.json")
    # The action expert's shape and how it reads μ_0.
    policy: ActionExpertConfig = ActionExpertConfig()
    # Which demonstrations to fine-tune on.
    policy_data: PolicyDataConfig = PolicyDataConfig()
    # Optimisation.
    finetune: TrainConfig = TrainConfig()
    # Success vs steps: every --finetune.val-every steps (if set) and at the end, roll the policy out this many
    # episodes per task on the validation seeds, with the --rollout settings, and log the success; 0: off.
    val_episodes_per_task: int = 0
    # First validation seed: never a training seed, and outside the final evaluation's --rollout.seed range.
    val_seed: int = 50_000
    # Closed-loop settings of the validation rollouts (their episodes and seed come from the two above).
    rollout: RolloutConfig = RolloutConfig()
    # Track the run in MLflow.
    mlflow: bool = True


@contextlib.contextmanager
def resolved_world_model(spec: str):
    """A local μ_0 folder for `spec` (a path, or a models:/ URI downloaded for the duration); None if empty."""
    if not spec:
        yield None
    elif spec.startswith("models:/"):
        from mu0.mlops.tracking import configure
        from mu0.serving.publish import model_folder

        configure()
        with tempfile.TemporaryDirectory() as tmp:
            yield model_folder(spec, Path(tmp))
    else:
        if not Path(spec).is_dir():
            raise FileNotFoundError(f"{spec}: no μ_0 model folder here (train one with mu0 pretrain, or pass "
                                    "models:/mu0-world-model@champion)")
        yield Path(spec)


def run(args: list[str]) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from mu0.cli.pretrain import _accepted
    from mu0.cli.tracking import stage_tracker
    from mu0.training.finetune import finetune

    parsed = parse_with_preset(
        FinetuneArgs, lambda p: FinetuneArgs(policy=dataclasses.replace(p.policy, world=p.model),
                                             policy_data=p.policy_data, finetune=p.finetune, rollout=p.rollout),
        args, "mu0 finetune", "Fine-tune an action expert (flow-matching action chunks) on action-labelled "
        "demonstrations, reading a frozen μ_0's traces or not.", prefixed=True)
    if parsed is None:
        return 2
    if parsed.mode == "action-pretrained" and parsed.init_from is None:
        console.print("[red]error:[/red] --mode action-pretrained needs --init-from (the action-pretrained policy)")
        return 2
    try:
        on_snapshot = validation_rollouts(parsed)
    except ValueError as e:
        console.print(f"[red]error:[/red] {e}")
        return 2
    policy_cfg = dataclasses.replace(parsed.policy, use_trace=parsed.mode == "trace")
    out = parsed.out or Path("artifacts") / f"policy-{parsed.mode}"
    columns = (TextColumn(f"[bold]finetune {parsed.mode}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("loss {task.fields[loss]:.4f}"))
    with resolved_world_model(parsed.world_model) as world, \
            stage_tracker(f"finetune-{parsed.mode}", parsed.mlflow, {"stage": "finetune", "mode": parsed.mode}) \
            as tracker, Progress(*columns, console=console) as progress:
        task = progress.add_task("finetune", total=parsed.finetune.steps, loss=float("nan"))
        result = finetune(parsed.episodes, out, policy_cfg, parsed.policy_data, parsed.finetune, world_model=world,
                          init_from=parsed.init_from, tracker=tracker, accepted=_accepted(parsed.validation_report),
                          on_step=lambda step, m: progress.update(task, completed=step, loss=m["loss"]),
                          on_snapshot=on_snapshot, reserved_seeds=_validation_seeds(parsed))
    gate = "".join(f", {k} {v:+.3f}" for k, v in result.trace_reading.items())  # how much μ_0 is read
    for step, point in result.val_curve.items():
        console.print(f"step {step}: " + ", ".join(f"{k} {v:.3f}" for k, v in point.items()))
    console.print(f"finetune {parsed.mode}: {result.steps} steps on {result.episodes} demonstrations "
                  f"({result.samples} samples), final loss {result.losses[-1]:.4f}{gate} → {result.model_dir}")
    return 0


def _validation_seeds(parsed: FinetuneArgs) -> range:
    return range(parsed.val_seed, parsed.val_seed + parsed.val_episodes_per_task)


def validation_rollouts(parsed: FinetuneArgs):
    """on_snapshot for fine-tuning: mean closed-loop success (and per task) on the validation seeds; None if off."""
    if not parsed.val_episodes_per_task:
        return None
    val = dataclasses.replace(parsed.rollout, episodes_per_task=parsed.val_episodes_per_task, seed=parsed.val_seed,
                              videos_per_task=0)
    final = range(parsed.rollout.seed, parsed.rollout.seed + parsed.rollout.episodes_per_task)
    overlap = sorted(set(_validation_seeds(parsed)) & set(final))
    if overlap:
        raise ValueError(f"validation seeds {overlap[0]}.. overlap the final evaluation's seeds "
                         f"({final.start}..{final.stop - 1}): move --val-seed")

    def on_snapshot(folder: Path, step: int) -> dict[str, float]:
        from mu0.evaluation.policy_eval import evaluate_policies

        entry = evaluate_policies({"snapshot": folder}, val)["policies"]["snapshot"]
        return {"val_success": entry["mean_success"],
                **{f"val_success_{task}": s["success"] for task, s in entry["per_task"].items()}}

    return on_snapshot
