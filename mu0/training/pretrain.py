"""The pretraining stage: μ_0 (or a learned baseline, same data and budget) on a trace dataset with
DeepSpeed, resumable exactly.

Exactness comes from making every random draw a function of (seed, position) rather than of history:
the order of samples in epoch e is a permutation seeded by (seed, e); the flow-matching noise and time
of micro-step m are drawn after seeding torch with (seed, m); dataset augmentation is seeded by
(seed, epoch, index). A run stopped after a checkpoint and resumed therefore replays the same loss
curve as one that never stopped (with `ema_decay`, the weight average is checkpointed too, and it is what
is validated and saved). Writes `model/` (config.json + model.safetensors), the normalisation
statistics and the resolved config; logs through a Tracker. A non-finite loss stops the run with an
error naming the step; the checkpoints written before it stay the latest.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch

from mu0.batch import INSTRUCTION
from mu0.bundle.files import CHECKPOINTS_DIR, MODEL_DIR
from mu0.bundle.trace_bundle import save_trace_bundle
from mu0.config import TraceDataConfig, TrainConfig, to_dict
from mu0.models.depth_image import reads_depth_image
from mu0.models.registry import build_model, load_model
from mu0.traces.build import build_datasets, trace_sources
from mu0.traces.protocol import protocol_of
from mu0.training.depth_range import with_depth_range
from mu0.training.ema import load_ema, make_ema, save_ema
from mu0.training.engine import make_engine
from mu0.training.tracker import NullTracker, Tracker
from mu0.training.val_curve import evenly_spread, moving_ade_uv

log = logging.getLogger(__name__)


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite."""


@dataclasses.dataclass(frozen=True)
class PretrainResult:
    model_dir: Path
    steps: int
    losses: list[float]  # mean loss of each optimizer step run in this call
    val_loss: float
    samples_per_s: float
    resumed_from: int
    val_curve: dict[int, dict[str, float]] = dataclasses.field(default_factory=dict)  # step → its val_* metrics


def _micro_batches(n: int, micro: int, seed: int, start: int) -> Iterator[list[int]]:
    """Micro-batches of (index, epoch) keys, epoch after epoch, from micro-batch number `start` on."""
    per_epoch = max(1, n // micro)
    epoch, offset = divmod(start, per_epoch)
    while True:
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch)).tolist()
        for i in range(offset, per_epoch):
            yield [(j, epoch) for j in order[i * micro:(i + 1) * micro]]
        epoch, offset = epoch + 1, 0


def micro_batch_loader(dataset, cfg: TrainConfig, start_micro: int) -> Iterator[dict]:
    sampler = _micro_batches(len(dataset), cfg.micro_batch, cfg.seed, start_micro)
    return iter(torch.utils.data.DataLoader(dataset, batch_sampler=sampler, num_workers=cfg.num_workers))


def seed_step(seed: int, micro_step: int) -> None:
    torch.manual_seed(seed * 1_000_003 + micro_step)


@torch.no_grad()
def evaluate_loss(model: torch.nn.Module, dataset, batch_size: int = 16, seed: int = 0) -> float:
    if len(dataset) == 0:
        return float("nan")
    model.eval()
    losses = []
    for i, batch in enumerate(torch.utils.data.DataLoader(dataset, batch_size=batch_size)):
        seed_step(seed, -1 - i)
        losses.append(model.compute_loss(batch)[0].item())
    model.train()
    return float(np.mean(losses))


def _latest_step(out_dir: Path) -> int:
    latest = out_dir / CHECKPOINTS_DIR / "latest"
    return int(latest.read_text().strip().removeprefix("step")) if latest.exists() else 0


def pretrain(traces_dir: Path, out_dir: Path, data_cfg: TraceDataConfig, model_cfg,
             train_cfg: TrainConfig, tracker: Tracker | None = None, accepted: set[str] | None = None,
             stop_after: int | None = None, on_step: Callable[[int, dict], None] | None = None,
             init_from: Path | None = None) -> PretrainResult:
    """Train the model `model_cfg` describes (μ_0's WorldModelConfig or a baseline's config), from
    scratch or warm-started from the weights in `init_from` (a model folder of the same config)."""
    data_cfg = data_cfg.for_model(model_cfg)
    if (data_cfg.horizon, data_cfg.history) != (model_cfg.horizon, model_cfg.history):
        raise ValueError(f"data horizon/history {data_cfg.horizon}/{data_cfg.history} must equal the model's "
                         f"{model_cfg.horizon}/{model_cfg.history}")
    prior = getattr(getattr(model_cfg, "expert", None), "prior", "none")
    if prior != "none" and not data_cfg.scale_history:
        raise ValueError(f"model.expert.prior '{prior}' extrapolates the history in the future's normalised units: "
                         "it needs data.scale_history true")
    tracker = tracker or NullTracker()
    out_dir = Path(out_dir)
    reads_depth = reads_depth_image(model_cfg)
    datasets, stats, splits = build_datasets(traces_dir, data_cfg, accepted, with_depth=reads_depth)
    if reads_depth:
        model_cfg = with_depth_range(model_cfg, datasets["train"].paths, init_from)
    if len(datasets["train"]) < train_cfg.micro_batch:
        raise ValueError(f"{traces_dir}: the train split has {len(datasets['train'])} samples, fewer than one "
                         f"micro-batch of {train_cfg.micro_batch} (episodes per split: "
                         f"{ {k: len(v) for k, v in splits.items()} })")
    torch.manual_seed(train_cfg.seed)
    model = build_model(model_cfg)
    if init_from is not None:
        model.load_state_dict(load_model(init_from, expect=model_cfg).state_dict())
        log.info("warm start from %s", init_from)
    ema = make_ema(model, train_cfg.ema_decay)
    engine, _ = make_engine(model, train_cfg)
    start = 0
    if (out_dir / CHECKPOINTS_DIR / "latest").exists():
        _, client = engine.load_checkpoint(str(out_dir / CHECKPOINTS_DIR))
        start = int(client["step"])
        if ema is not None:
            load_ema(ema, out_dir / CHECKPOINTS_DIR / f"step{start}")
        log.info("resumed from step %d", start)
    scored = ema.module if ema is not None else engine.module  # what is validated and saved
    tracker.log_params({"kind": model.kind, "data": to_dict(data_cfg), "model": to_dict(model_cfg),
                        "train": to_dict(train_cfg), "splits": {k: len(v) for k, v in splits.items()}})
    accum = train_cfg.grad_accumulation
    batches = micro_batch_loader(datasets["train"], train_cfg, start * accum)
    losses, samples, t0, curve = [], 0, time.perf_counter(), {}
    val_subset = evenly_spread(datasets["val"], train_cfg.val_samples)
    last = min(train_cfg.steps, stop_after) if stop_after else train_cfg.steps
    for step in range(start, last):
        step_losses = []
        for micro in range(accum):
            batch = next(batches)
            seed_step(train_cfg.seed, step * accum + micro)
            loss, info = engine(batch)
            if not torch.isfinite(loss):
                raise TrainingDivergedError(
                    f"step {step + 1}: loss is {loss.item()} ({info}); stopped without saving. The last good "
                    f"checkpoint stays in {out_dir / CHECKPOINTS_DIR} (step {_latest_step(out_dir)}); lower "
                    f"--train.lr or check the data")
            engine.backward(loss)
            engine.step()
            step_losses.append(info["loss"])
            samples += len(batch[INSTRUCTION])
        losses.append(float(np.mean(step_losses)))
        if ema is not None:
            ema.update_parameters(engine.module)
        out_of_time = train_cfg.max_minutes > 0 and time.perf_counter() - t0 > 60 * train_cfg.max_minutes
        if out_of_time:
            log.info("time budget of %.1f min reached at step %d", train_cfg.max_minutes, step + 1)
            last = step + 1
        metrics = {"loss": losses[-1], "lr": engine.get_lr()[0], "samples_per_s": samples / (time.perf_counter() - t0)}
        if on_step is not None:
            on_step(step + 1, metrics)
        if (step + 1) % train_cfg.log_every == 0 or step + 1 == last:
            tracker.log_metrics(metrics, step + 1)
        if train_cfg.checkpoint_every and (step + 1) % train_cfg.checkpoint_every == 0 or step + 1 == last:
            tag_dir = out_dir / CHECKPOINTS_DIR / f"step{step + 1}"
            if ema is not None and engine.global_rank == 0:  # before DeepSpeed moves `latest` to this tag
                tag_dir.mkdir(parents=True, exist_ok=True)
                save_ema(ema, tag_dir)
            engine.save_checkpoint(str(out_dir / CHECKPOINTS_DIR), tag=tag_dir.name, client_state={"step": step + 1})
        if train_cfg.val_every and (step + 1) % train_cfg.val_every == 0 and step + 1 != last:
            curve[step + 1] = _validate(scored, val_subset, stats, train_cfg.seed, tracker, step + 1)
        if out_of_time:
            break
    curve[last] = _validate(scored, val_subset, stats, train_cfg.seed, tracker, last)
    val = evaluate_loss(scored, datasets["val"], seed=train_cfg.seed)
    tracker.log_metrics({"val_loss": val}, last)
    train_paths = datasets["train"].paths
    model_dir = save_trace_bundle(scored, out_dir / MODEL_DIR, stats, protocol_of(train_paths, data_cfg), {
        "data": to_dict(data_cfg), "train": to_dict(train_cfg), "splits": splits,
        "trace_sources": trace_sources(train_paths)})
    tracker.log_artifact(model_dir)
    return PretrainResult(model_dir, last, losses, val, samples / max(time.perf_counter() - t0, 1e-9), start, curve)


def _validate(model, val_subset, stats, seed: int, tracker: Tracker, step: int) -> dict[str, float]:
    """One point of the validation curve, logged at `step` (the full val split's loss follows at the end)."""
    if len(val_subset) == 0:
        return {}
    point = {"val_subset_loss": evaluate_loss(model, val_subset, seed=seed),
             "val_ade_uv": moving_ade_uv(model, val_subset, stats)}
    tracker.log_metrics(point, step)
    log.info("step %d: val loss %.4f, val uv ADE (moving, point estimate) %.4f", step, *point.values())
    return point
