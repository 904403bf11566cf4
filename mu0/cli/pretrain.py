"""`mu0 pretrain`: μ_0 — or a learned baseline, sized like it — on the trace dataset with DeepSpeed
(episodes the validation gate accepted)."""

from __future__ import annotations

from mu0.cli.common import console, parse_with_preset
from mu0.stages.pretrain import PretrainArgs


def run(args: list[str]) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from mu0.stages.errors import ValidationRefused
    from mu0.stages.pretrain import pretrain_stage
    from mu0.training.errors import RunRefused
    from mu0.training.loop import TrainingDivergedError

    parsed = parse_with_preset(PretrainArgs, PretrainArgs.from_preset, args, "mu0 pretrain",
                               "Pretrain μ_0 (VLM backbone + B-spline trace expert) or a learned baseline with "
                               "DeepSpeed; resumes from out/checkpoints when present.", prefixed=True)
    if parsed is None:
        return 2
    columns = (TextColumn(f"[bold]pretrain {parsed.kind}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("loss {task.fields[loss]:.4f}  {task.fields[sps]:.0f} samples/s"))
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("pretrain", total=parsed.train.steps, loss=float("nan"), sps=0.0)
        try:
            result = pretrain_stage(parsed, on_step=lambda step, m: progress.update(
                task, completed=step, loss=m["loss"], sps=m["samples_per_s"]))
        except (ValidationRefused, RunRefused) as exc:
            raise SystemExit(f"mu0 pretrain: {exc}") from None
        except TrainingDivergedError as exc:
            console.print(f"[red]mu0 pretrain:[/red] {exc}")
            return 1
    if result.model_dir is None:  # a rank other than 0 of a multi-process run: rank 0 reports
        return 0
    console.print(f"pretrain: {result.steps} steps (resumed from {result.resumed_from}), final loss "
                  f"{result.losses[-1] if result.losses else float('nan'):.4f}, val loss {result.val_loss:.4f}, "
                  f"{result.samples_per_s:.0f} samples/s → {result.model_dir}")
    if result.val_curve:
        console.print("val uv ADE (moving keypoints, point estimate) by step: " + ", ".join(
            f"{step}: {point.get('val_ade_uv', float('nan')):.4f}" for step, point in sorted(result.val_curve.items())))
    return 0
