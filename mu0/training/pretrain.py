"""The pretraining stage: μ_0 (or a learned baseline, same data and budget) on a trace dataset with
DeepSpeed, resumable exactly.

Exactness comes from making every random draw a function of (seed, position) rather than of history:
the order of samples in epoch e is a permutation seeded by (seed, e); the flow-matching noise and time
of micro-step m are drawn after seeding torch with (seed, m); dataset augmentation is seeded by
(seed, epoch, index). A run stopped after a checkpoint and resumed therefore replays the same loss
curve as one that never stopped (with `ema_decay`, the weight average is checkpointed too, and it is what
is validated and saved). The loop itself (ranks, accumulation, budget, checkpoints) is training.loop's.
Rank 0 writes `model/` (config.json + model.safetensors), the normalisation statistics and the resolved
config, atomically; logs through a Tracker. A non-finite loss stops the run with an error naming the step;
the checkpoints written before it stay the latest.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from mu0.bundle.files import MODEL_DIR
from mu0.bundle.trace_bundle import save_trace_bundle
from mu0.config import TraceDataConfig, TrainConfig, to_dict
from mu0.models.depth_image import reads_depth_image
from mu0.models.registry import build_model, load_model
from mu0.traces.build import build_datasets, trace_sources
from mu0.traces.protocol import protocol_of
from mu0.training import checkpoints
from mu0.training.depth_range import with_depth_range
from mu0.training.ema import load_ema, make_ema, save_ema
from mu0.training.engine import make_engine
from mu0.training.full_weights import full_weights
from mu0.training.loop import LoopHooks, run_loop
from mu0.training.ranks import barrier, current_shard, is_main
from mu0.training.run_lock import one_writer
from mu0.training.sampler import seed_micro_step
from mu0.training.tracker import NullTracker, Tracker
from mu0.training.val_curve import evenly_spread, moving_ade_uv

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class PretrainResult:
    model_dir: Path | None  # None on ranks other than 0, which write nothing
    steps: int
    losses: list[float]  # mean loss (over ranks) of each optimizer step run in this call
    val_loss: float
    samples_per_s: float
    resumed_from: int
    val_curve: dict[int, dict[str, float]] = dataclasses.field(default_factory=dict)  # step → its val_* metrics


@torch.no_grad()
def evaluate_loss(model: torch.nn.Module, dataset, batch_size: int = 16, seed: int = 0) -> float:
    if len(dataset) == 0:
        return float("nan")
    model.eval()
    losses = []
    for i, batch in enumerate(torch.utils.data.DataLoader(dataset, batch_size=batch_size)):
        seed_micro_step(seed, -1 - i)
        losses.append(model.compute_loss(batch)[0].item())
    model.train()
    return float(np.mean(losses))


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
    if len(datasets["val"]) == 0:
        log.warning("%s: the val split is empty (episodes per split: %s): no validation curve and no val loss; "
                    "raise --data.val-fraction or add episodes", traces_dir, {k: len(v) for k, v in splits.items()})
    torch.manual_seed(train_cfg.seed)
    model = build_model(model_cfg)
    if init_from is not None:
        model.load_state_dict(load_model(init_from, expect=model_cfg).state_dict())
        log.info("warm start from %s", init_from)
    ema = make_ema(model, train_cfg.ema_decay)
    engine, _ = make_engine(model, train_cfg)
    with one_writer(out_dir):
        start, curve = checkpoints.resume(engine, out_dir, train_cfg)
        if start and ema is not None:
            load_ema(ema, checkpoints.checkpoint_root(out_dir) / f"step{start}")
        scored = ema.module if ema is not None else engine.module  # what is validated and saved
        tracker.log_params({"kind": model.kind, "data": to_dict(data_cfg), "model": to_dict(model_cfg),
                            "train": to_dict(train_cfg), "splits": {k: len(v) for k, v in splits.items()},
                            "world_size": current_shard().world})
        val_subset = evenly_spread(datasets["val"], train_cfg.val_samples)
        hooks = LoopHooks(
            on_step=on_step,
            after_step=(lambda: ema.update_parameters(engine.module)) if ema is not None else None,
            validate=lambda step: _validate(scored, val_subset, stats, train_cfg.seed, step),
            save_extra=(lambda tag_dir: save_ema(ema, tag_dir)) if ema is not None else None,
            on_diverged="lower --train.lr or check the data")
        run = run_loop(engine, datasets["train"], train_cfg, out_dir, tracker, hooks, start, curve, stop_after)
        val = evaluate_loss(scored, datasets["val"], seed=train_cfg.seed)
        tracker.log_metrics({"val_loss": val}, run.last)
        train_paths = datasets["train"].paths
        model_dir = None
        with full_weights(engine):
            if is_main():
                model_dir = save_trace_bundle(scored, out_dir / MODEL_DIR, stats, protocol_of(train_paths, data_cfg), {
                    "data": to_dict(data_cfg), "train": to_dict(train_cfg), "splits": splits,
                    "trace_sources": trace_sources(train_paths), "world_size": current_shard().world})
                tracker.log_artifact(model_dir)
        barrier()
        return PretrainResult(model_dir, run.last, run.losses, val, run.samples_per_s, start, run.curve)


def _validate(model, val_subset, stats, seed: int, step: int) -> dict[str, float]:
    """One point of the validation curve (the full val split's loss follows at the end)."""
    if len(val_subset) == 0:
        return {}
    point = {"val_subset_loss": evaluate_loss(model, val_subset, seed=seed),
             "val_ade_uv": moving_ade_uv(model, val_subset, stats)}
    log.info("step %d: val loss %.4f, val uv ADE (moving, point estimate) %.4f", step, *point.values())
    return point
