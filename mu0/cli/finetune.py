"""`mu0 finetune`: an action expert on action-labelled demonstrations — on a frozen μ_0 (`--mode trace`),
from scratch, or from an action-pretrained policy — with DeepSpeed."""

from __future__ import annotations

from mu0.cli.common import console, parse_with_preset
from mu0.stages.finetune import FinetuneArgs


def run(args: list[str]) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from mu0.stages.errors import BadArguments, ValidationRefused
    from mu0.stages.finetune import finetune_stage
    from mu0.training.errors import RunRefused
    from mu0.training.loop import TrainingDivergedError

    parsed = parse_with_preset(FinetuneArgs, FinetuneArgs.from_preset, args, "mu0 finetune",
                               "Fine-tune an action expert (flow-matching action chunks) on action-labelled "
                               "demonstrations, reading a frozen μ_0's traces or not.", prefixed=True)
    if parsed is None:
        return 2
    columns = (TextColumn(f"[bold]finetune {parsed.mode}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("loss {task.fields[loss]:.4f}"))
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("finetune", total=parsed.finetune.steps, loss=float("nan"))
        try:
            result = finetune_stage(parsed, on_step=lambda step, m: progress.update(task, completed=step,
                                                                                      loss=m["loss"]))
        except (ValidationRefused, RunRefused) as exc:
            raise SystemExit(f"mu0 finetune: {exc}") from None
        except TrainingDivergedError as exc:
            console.print(f"[red]mu0 finetune:[/red] {exc}")
            return 1
        except BadArguments as exc:
            console.print(f"[red]error:[/red] {exc}")
            return 2
    if result.model_dir is None:  # a rank other than 0 of a multi-process run: rank 0 reports
        return 0
    gate = "".join(f", {k} {v:+.3f}" for k, v in result.trace_reading.items())  # how much μ_0 is read
    for step, point in result.val_curve.items():
        console.print(f"step {step}: " + ", ".join(f"{k} {v:.3f}" for k, v in point.items()))
    console.print(f"finetune {parsed.mode}: {result.steps} steps on {result.episodes} demonstrations "
                  f"({result.samples} samples), final loss {result.losses[-1]:.4f}{gate} → {result.model_dir}")
    return 0
