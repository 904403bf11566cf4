"""Fine-tuning an action expert on action-labelled demonstrations — on a frozen μ_0 (`trace`), from scratch, or
from an action-pretrained policy — with success-vs-steps rollouts on validation seeds when asked."""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from mu0.bundle.files import model_in
from mu0.config import ActionExpertConfig, PolicyDataConfig, RolloutConfig, TrainConfig
from mu0.stages.errors import BadArguments
from mu0.stages.pretrain import accepted_episodes
from mu0.stages.tracking import Tracking, stage_run


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
    # Stop after this step with a checkpoint and the policy saved, on the schedule of --finetune.steps;
    # running again resumes.
    stop_after: int | None = None

    @classmethod
    def from_preset(cls, preset) -> FinetuneArgs:
        return cls(policy=dataclasses.replace(preset.policy, world=preset.model), policy_data=preset.policy_data,
                   finetune=preset.finetune, rollout=preset.rollout)

    @property
    def out_dir(self) -> Path:
        return Path(self.out or Path("artifacts") / f"policy-{self.mode}")


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


def finetune_stage(args: FinetuneArgs, tracking: Tracking = Tracking(),
                   on_step: Callable[[int, dict], None] | None = None):
    """Train; returns training.finetune.FinetuneResult (policy folder, steps, losses, trace reading, curve)."""
    from mu0.training.finetune import finetune

    if args.mode == "action-pretrained" and args.init_from is None:
        raise BadArguments("--mode action-pretrained needs --init-from (the action-pretrained policy)")
    on_snapshot = validation_rollouts(args)
    policy_cfg = dataclasses.replace(args.policy, use_trace=args.mode == "trace")
    accepted = accepted_episodes(args.validation_report)
    tracking = dataclasses.replace(tracking, enabled=tracking.enabled and args.mlflow)
    with resolved_world_model(args.world_model) as world, \
            stage_run(f"finetune-{args.mode}", tracking, {"stage": "finetune", "mode": args.mode}) as tracker:
        return finetune(args.episodes, args.out_dir, policy_cfg, args.policy_data, args.finetune, world_model=world,
                        init_from=args.init_from, tracker=tracker, accepted=accepted, on_step=on_step,
                        on_snapshot=on_snapshot, reserved_seeds=_validation_seeds(args),
                        stop_after=args.stop_after)


def _validation_seeds(args: FinetuneArgs) -> range:
    return range(args.val_seed, args.val_seed + args.val_episodes_per_task)


def validation_rollouts(args: FinetuneArgs):
    """on_snapshot for fine-tuning: mean closed-loop success (and per task) on the validation seeds; None if off."""
    if not args.val_episodes_per_task:
        return None
    val = dataclasses.replace(args.rollout, episodes_per_task=args.val_episodes_per_task, seed=args.val_seed,
                              videos_per_task=0)
    final = range(args.rollout.seed, args.rollout.seed + args.rollout.episodes_per_task)
    overlap = sorted(set(_validation_seeds(args)) & set(final))
    if overlap:
        raise BadArguments(f"validation seeds {overlap[0]}.. overlap the final evaluation's seeds "
                           f"({final.start}..{final.stop - 1}): move --val-seed")

    def on_snapshot(folder: Path, step: int) -> dict[str, float]:
        from mu0.evaluation.policy_eval import evaluate_policies

        entry = evaluate_policies({"snapshot": folder}, val)["policies"]["snapshot"]
        return {"val_success": entry["mean_success"],
                **{f"val_success_{task}": s["success"] for task, s in entry["per_task"].items()}}

    return on_snapshot
