"""The fine-tuning stage: an action expert on action-labelled demonstrations, with DeepSpeed.

Three policies come out of the same function and the same budget: trace-conditioned (reads a frozen
μ_0 from `world_model`), scratch (the same decoder and backbone shape, no μ_0 features, random init), and
action-pretrained (scratch's architecture, started from `init_from` — a policy first trained with action
labels on the pretraining episodes). Writes `model/` (config.json + model.safetensors, μ_0's delta
statistics for drawing traces, and train_config.json recording the demonstrations and their seeds).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from collections.abc import Callable, Collection
from pathlib import Path

import torch

from mu0.batch import HAND_UV, IMAGE, INSTRUCTION, PROPRIO, WRIST_IMAGE
from mu0.bundle.files import MODEL_DIR, SNAPSHOTS_DIR
from mu0.bundle.policy_bundle import save_policy_bundle
from mu0.bundle.read import read_record
from mu0.config import ActionExpertConfig, PolicyDataConfig, TrainConfig, to_dict
from mu0.models.action_expert import ActionExpert
from mu0.models.world_model import Mu0WorldModel
from mu0.traces.protocol import TraceProtocol, check_protocol
from mu0.training import checkpoints
from mu0.training.action_data import (
    ActionChunkDataset,
    camera_calibration,
    demo_summary,
    goal_marker,
    select_demos,
    wrist_views,
)
from mu0.training.engine import make_engine
from mu0.training.full_weights import full_weights
from mu0.training.loop import LoopHooks, run_loop
from mu0.training.ranks import barrier, is_main
from mu0.training.run_lock import one_writer
from mu0.training.tracker import NullTracker, Tracker
from mu0.training.val_curve import evenly_spread

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class FinetuneResult:
    model_dir: Path | None  # None on ranks other than 0, which write nothing
    steps: int
    losses: list[float]  # mean loss (over ranks) of each optimizer step run in this call
    samples: int
    episodes: int
    samples_per_s: float
    trace_reading: dict[str, float]  # how much the decoder reads μ_0 at the end (ActionExpert.trace_reading)
    val_curve: dict[int, dict[str, float]] = dataclasses.field(default_factory=dict)  # step → on_snapshot's + reading
    resumed_from: int = 0


def build_policy(cfg: ActionExpertConfig, world_model: Path | None, init_from: Path | None) -> ActionExpert:
    """The policy to train. With use_trace, μ_0 comes from `world_model` (its config becomes the policy's
    `world`); `init_from` (an earlier policy folder, e.g. the action-pretrained one) must fit the result."""
    world = None
    if world_model is not None:
        world = Mu0WorldModel.from_pretrained(world_model)
        cfg = dataclasses.replace(cfg, world=world.cfg)
    elif cfg.use_trace and init_from is None:
        raise ValueError("a trace-conditioned policy needs --world-model (a μ_0 folder or models:/NAME@ALIAS)")
    if init_from is not None:
        expect = cfg if world_model is not None else None
        policy = ActionExpert.from_pretrained(init_from, expect=expect)
        if policy.cfg.use_trace != cfg.use_trace:
            raise ValueError(f"{init_from}: a policy with use_trace={policy.cfg.use_trace}, asked for "
                             f"use_trace={cfg.use_trace}")
        if cfg.use_trace and world_model is not None:  # the policy learnt to read traces of its own μ_0's protocol
            check_protocol(init_from, TraceProtocol.load(world_model),
                           f"the μ_0 in {world_model} (the policy's μ_0 != the given μ_0)")
            own = policy.world.state_dict()
            differ = [k for k, v in world.state_dict().items() if not torch.equal(v, own[k])]
            if differ:  # the policy keeps its own μ_0's weights: another one's statistics would not describe them
                raise ValueError(f"{init_from}: its μ_0 differs from the one in {world_model} ({len(differ)} "
                                 f"tensors, e.g. {differ[0]}); fine-tune it with its own μ_0, or without "
                                 "--world-model")
        return policy
    policy = ActionExpert(cfg)
    if world is not None and cfg.use_trace:
        policy.world.load_state_dict(world.state_dict())
        if cfg.train_backbone:
            policy.backbone.load_state_dict(world.backbone.state_dict())  # a trainable copy, from μ_0's weights
    return policy


def finetune(episodes: Path, out_dir: Path, policy_cfg: ActionExpertConfig, data_cfg: PolicyDataConfig,
             train_cfg: TrainConfig, world_model: Path | None = None, init_from: Path | None = None,
             tracker: Tracker | None = None, accepted: set[str] | None = None,
             on_step: Callable[[int, dict], None] | None = None,
             on_snapshot: Callable[[Path, int], dict[str, float]] | None = None,
             reserved_seeds: Collection[int] = (), stop_after: int | None = None) -> FinetuneResult:
    """Fine-tune a policy. With `on_snapshot`, every `train_cfg.val_every` steps (if set) and at the end the
    policy is saved to a snapshot folder, scored by on_snapshot(folder, step) (e.g. closed-loop success on
    validation seeds), logged with its trace reading, and removed: the success-vs-steps curve.
    `reserved_seeds` (those validation seeds): a demonstration with one of them is refused before training.
    A run folder with checkpoints resumes from the newest, exactly, as pretraining does; `stop_after` ends
    this call at that step (checkpoint and policy saved) on the schedule of train_cfg.steps."""
    if train_cfg.ema_decay:
        raise ValueError("--finetune.ema-decay: fine-tuning keeps no weight average (pretraining does); leave it at 0")
    if policy_cfg.use_trace and train_cfg.zero_stage == 3:
        raise ValueError("--finetune.zero-stage 3: a trace policy's frozen μ_0 reads attention weights outside the "
                         "modules that hold them, where ZeRO-3 keeps them partitioned; use stage 0, 1 or 2 (ZeRO-3 "
                         "would partition little here: μ_0 has no gradients or optimizer state)")
    tracker = tracker or NullTracker()
    torch.manual_seed(train_cfg.seed)
    policy = build_policy(policy_cfg, world_model, init_from)
    cfg = policy.cfg
    demos = select_demos(episodes, data_cfg, accepted)
    summary = demo_summary(demos)
    clash = sorted({seed for entry in summary.values() for seed in entry["seeds"]} & set(reserved_seeds))
    if clash:
        raise ValueError(f"{episodes}: demonstrations with seeds {clash[:5]}, which validation rollouts would reuse; "
                         "move --val-seed")
    wrist = wrist_views(demos, data_cfg.wrist_camera) if cfg.wrist_tokens else None
    marker = goal_marker(demos)
    hands = cfg.use_trace and cfg.hand_queries > 0
    calibration = camera_calibration(demos) if hands else None  # checked before any training
    dataset = ActionChunkDataset(demos, cfg.chunk, cfg.action_dim, cfg.proprio_dim, wrist,
                                 cfg.hand_xyz if hands else None,
                                 sample_ids=cfg.use_trace and data_cfg.reuse_forecasts)
    if len(dataset) < train_cfg.micro_batch:
        raise ValueError(f"{episodes}: {len(dataset)} samples, fewer than one micro-batch of {train_cfg.micro_batch}")
    if init_from is None:
        policy.set_proprio_stats(*dataset.proprio_stats())
    engine, _ = make_engine(policy, train_cfg)
    source = world_source(cfg.use_trace, world_model, init_from)
    tracker.log_params({"policy": to_dict(cfg), "policy_data": to_dict(data_cfg), "finetune": to_dict(train_cfg),
                        "episodes": len(demos), "samples": len(dataset), "world_model": str(world_model or ""),
                        "init_from": str(init_from or "")})
    def record(steps: int, reading: dict) -> dict:
        return {"policy_data": to_dict(data_cfg), "finetune": to_dict(train_cfg), "steps": steps, "demos": summary,
                "world_model": str(world_model or ""), "init_from": str(init_from or ""),
                "episodes_root": str(episodes), "image_size": int(dataset.images[0].shape[1]), "trace_reading": reading,
                "world_holdout_tasks": _world_holdout_tasks(source), "goal_marker": marker,
                **({"camera_calibration": calibration} if calibration is not None else {})}

    def snapshot(step: int) -> dict[str, float]:
        """A success-vs-steps point: the policy saved, scored by on_snapshot on rank 0, removed."""
        reading, point = _trace_reading(engine.module, dataset), {}
        folder = Path(out_dir) / SNAPSHOTS_DIR / f"step{step}"
        with full_weights(engine):
            if is_main():
                save_policy_bundle(engine.module, folder, source, record(step, reading))
        if is_main():
            try:
                point = on_snapshot(folder, step)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
        barrier()
        point = {**point, **reading}
        log.info("step %d: %s", step, json.dumps(point))
        return point

    with one_writer(Path(out_dir)):
        start, curve = checkpoints.resume(engine, out_dir, train_cfg)
        hooks = LoopHooks(on_step=on_step, validate=snapshot if on_snapshot is not None else None,
                          on_diverged="lower --finetune.lr or check the demonstrations")
        run = run_loop(engine, dataset, train_cfg, Path(out_dir), tracker, hooks, start, curve, stop_after)
        reading = _trace_reading(engine.module, dataset)
        model_dir = None
        with full_weights(engine):
            if is_main():
                model_dir = save_policy_bundle(engine.module, Path(out_dir) / MODEL_DIR, source,
                                               record(run.last, reading))
                tracker.log_artifact(model_dir)
        barrier()
        per_task = {k: len(v["episodes"]) for k, v in summary.items()}
        log.info("fine-tuned %d steps on %d demos (%s)", run.last, len(demos), json.dumps(per_task))
        return FinetuneResult(model_dir, run.last, run.losses, len(dataset), len(demos), run.samples_per_s, reading,
                              run.curve, start)


def _trace_reading(policy: ActionExpert, dataset, samples: int = 16) -> dict[str, float]:
    """The policy's trace reading on `samples` training samples spread evenly over the demos (a fixed set, so
    runs compare)."""
    batch = next(iter(torch.utils.data.DataLoader(evenly_spread(dataset, samples), batch_size=samples)))
    policy.eval()
    try:
        return policy.trace_reading(batch[IMAGE], list(batch[INSTRUCTION]), batch[PROPRIO],
                                    batch.get(WRIST_IMAGE), batch.get(HAND_UV))
    finally:
        policy.train()


def world_source(use_trace: bool, world_model: Path | None, init_from: Path | None) -> Path | None:
    """The folder whose μ_0 the policy holds, and so whose statistics, protocol and held-out tasks it keeps:
    a trace policy started from an earlier one keeps that policy's μ_0, whatever --world-model says."""
    return init_from if use_trace and init_from is not None else world_model


def _world_holdout_tasks(source: Path | None) -> list[str]:
    """The tasks μ_0 was pretrained without (its train_config.json, or the one an earlier policy recorded), so
    evaluation can report them apart."""
    record = read_record(source) if source is not None else {}
    if "world_holdout_tasks" in record:
        return list(record["world_holdout_tasks"])
    return list(record.get("data", {}).get("holdout_tasks", []))
