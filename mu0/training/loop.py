"""The one optimisation loop that pretraining and fine-tuning share: DeepSpeed's engine over this rank's shard
of every global batch, gradient accumulation, a NaN stop, a wall-clock budget, checkpoints, validation points
and tracking.

Every rank runs it; decisions that must agree (stop on a non-finite loss, stop on the budget) are taken over
all ranks, and the logged loss is the mean over ranks, so a 2-rank run logs the curve of a 1-rank run with
the same global batch. Validation (`validate(step)`, every `val_every` steps and at the last) runs on every
rank, off the time budget; what it writes is rank 0's business. A checkpoint follows each validation point and
holds the curve so far, so a resumed run reports the whole curve.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from mu0.batch import INSTRUCTION
from mu0.config import TrainConfig
from mu0.training import checkpoints
from mu0.training.ranks import any_rank, current_shard, is_main, mean_over_ranks
from mu0.training.sampler import micro_batch_loader, micro_slot, seed_micro_step
from mu0.training.tracker import NullTracker, Tracker

log = logging.getLogger(__name__)


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite."""


@dataclasses.dataclass(frozen=True)
class LoopResult:
    start: int  # the step it resumed from (0: a fresh run)
    last: int  # the last step run (fewer than cfg.steps on a time budget or with stop_after)
    losses: list[float]  # mean loss over ranks of each optimizer step run in this call
    samples: int  # samples seen by all ranks in this call
    samples_per_s: float  # over all ranks, validation excluded
    curve: dict[int, dict[str, float]]  # step → validate(step)'s metrics, resumed steps included


@dataclasses.dataclass(frozen=True)
class LoopHooks:
    on_step: Callable[[int, dict], None] | None = None  # every step, with its metrics (progress bars)
    after_step: Callable[[], None] | None = None  # after each optimizer step (the weight average)
    validate: Callable[[int], dict[str, float]] | None = None  # a validation point (every rank calls it)
    save_extra: Callable[[Path], None] | None = None  # rank 0's own files in each checkpoint tag
    on_diverged: str = "lower the learning rate or check the data"  # what to try when the loss is not finite


def run_loop(engine, dataset, cfg: TrainConfig, out_dir: Path, tracker: Tracker, hooks: LoopHooks = LoopHooks(),
             start: int = 0, curve: dict[int, dict[str, float]] | None = None,
             stop_after: int | None = None) -> LoopResult:
    """Train from step `start` (a resumed checkpoint's, with its `curve`) to cfg.steps (or `stop_after`)."""
    shard = current_shard()
    tracker = tracker if is_main() else NullTracker()
    curve = dict(curve or {})
    batches = micro_batch_loader(dataset, cfg, start, shard)
    losses: list[float] = []
    seen, off_budget, t0 = 0, 0.0, time.perf_counter()
    last = min(cfg.steps, stop_after) if stop_after else cfg.steps
    for step in range(start, last):
        step_losses, info = [], {}
        for micro in range(cfg.grad_accumulation):
            batch = next(batches)
            seed_micro_step(cfg.seed, micro_slot(cfg, shard, step, micro))
            loss, info = engine(batch)
            if any_rank(not bool(torch.isfinite(loss))):
                raise TrainingDivergedError(
                    f"step {step + 1}: the loss is not finite (this rank's: {loss.item()}, {info}); stopped "
                    f"without saving. The last good checkpoint stays in {checkpoints.checkpoint_root(out_dir)} "
                    f"(step {checkpoints.latest_step(out_dir)}); {hooks.on_diverged}")
            engine.backward(loss)
            engine.step()
            step_losses.append(info["loss"])
            seen += len(batch[INSTRUCTION]) * shard.world
        losses.append(mean_over_ranks(float(np.mean(step_losses))))
        if hooks.after_step is not None:
            hooks.after_step()
        training_s = time.perf_counter() - t0 - off_budget
        out_of_time = any_rank(cfg.max_minutes > 0 and training_s > 60 * cfg.max_minutes)
        if out_of_time:
            log.info("time budget of %.1f min reached at step %d", cfg.max_minutes, step + 1)
            last = step + 1
        metrics = {**info, "loss": losses[-1], "lr": engine.get_lr()[0], "samples_per_s": seen / max(training_s, 1e-9)}
        if hooks.on_step is not None:
            hooks.on_step(step + 1, metrics)
        if (step + 1) % cfg.log_every == 0 or step + 1 == last:
            tracker.log_metrics(metrics, step + 1)
        if hooks.validate is not None and (cfg.val_every and (step + 1) % cfg.val_every == 0 or step + 1 == last):
            started = time.perf_counter()
            curve[step + 1] = hooks.validate(step + 1)
            tracker.log_metrics(curve[step + 1], step + 1)
            off_budget += time.perf_counter() - started  # evaluating is not training: the budget skips it
        if cfg.checkpoint_every and (step + 1) % cfg.checkpoint_every == 0 or step + 1 == last:
            checkpoints.save(engine, out_dir, cfg, step + 1, curve, hooks.save_extra)
        if out_of_time:
            break
    training_s = time.perf_counter() - t0 - off_budget
    return LoopResult(start, max(last, start), losses, seen, seen / max(training_s, 1e-9), curve)
