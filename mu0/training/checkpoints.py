"""Resumable training checkpoints that cannot run code, and that say which run shape wrote them.

A checkpoint is DeepSpeed's engine state under <run>/checkpoints/step<N>/ (its files, one set per rank under
ZeRO) plus `run_state.json`: the step, the world size and global batch that wrote it, and the loop's
validation curve. DeepSpeed reads its files with full unpickling; here every file is read with torch's
weights-only unpickler instead (tensors, containers, plain values and the three DeepSpeed types its checkpoints
hold), so a planted pickle is refused by name and nothing in it runs.

Resuming at another world size keeps the same samples and schedule only if the global batch is unchanged
(micro × accumulation × world), and DeepSpeed can re-split only unpartitioned state: ZeRO stage 0 resumes at
any world size with the same global batch; stages 1-3 resume at the world size that wrote them.
"""

from __future__ import annotations

import json
import logging
import pickle
import shutil
from pathlib import Path

import torch

from mu0.bundle.files import CHECKPOINTS_DIR
from mu0.config import TrainConfig
from mu0.episodes.atomic import write_json_atomic
from mu0.training.errors import RunRefused
from mu0.training.ranks import barrier, current_shard, is_main
from mu0.training.sampler import global_batch

log = logging.getLogger(__name__)

RUN_STATE_FILE = "run_state.json"  # beside DeepSpeed's files in each checkpoint tag
LATEST_FILE = "latest"  # DeepSpeed's pointer to the newest complete tag


class UnsafeCheckpointError(RunRefused):
    """A checkpoint file holds more than tensors and plain data (it would run code if unpickled)."""


class CheckpointMismatchError(RunRefused):
    """A checkpoint written by a run of another shape (world size, global batch, ZeRO stage)."""


def _deepspeed_globals() -> list:
    """The classes DeepSpeed's own checkpoint files hold besides tensors and plain data (measured: stages 0-3)."""
    from deepspeed.runtime.fp16.loss_scaler import DynamicLossScaler, LossScaler
    from deepspeed.runtime.zero.config import ZeroStageEnum
    from deepspeed.utils.tensor_fragment import fragment_address

    return [LossScaler, DynamicLossScaler, ZeroStageEnum, fragment_address]


def load_weights_only(path: str | Path, map_location=None):
    """torch.load restricted to weights and plain data; anything else is refused naming the file."""
    try:
        with torch.serialization.safe_globals(_deepspeed_globals()):
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UnsafeCheckpointError(
            f"{path}: refused to load: it holds objects other than tensors and plain data, which unpickling "
            f"would run ({first}). Delete the checkpoint folder or start a new run") from None


def _weights_only_engine(config_params):
    from deepspeed.runtime.checkpoint_engine.torch_checkpoint_engine import TorchCheckpointEngine

    class WeightsOnlyCheckpointEngine(TorchCheckpointEngine):
        def load(self, path: str, map_location=None):
            return load_weights_only(path, map_location)

    return WeightsOnlyCheckpointEngine(config_params)


def make_loads_safe(engine) -> None:
    """Route every checkpoint read of `engine` (model, optimizer, ZeRO partitions) through load_weights_only."""
    engine.checkpoint_engine = _weights_only_engine(engine._config)
    optimizer = getattr(engine, "optimizer", None)
    if optimizer is not None and hasattr(optimizer, "checkpoint_engine"):
        optimizer.checkpoint_engine = engine.checkpoint_engine


def checkpoint_root(out_dir: Path) -> Path:
    return Path(out_dir) / CHECKPOINTS_DIR


def latest_step(out_dir: Path) -> int:
    """The step of the newest complete checkpoint (0: none)."""
    latest = checkpoint_root(out_dir) / LATEST_FILE
    return int(latest.read_text().strip().removeprefix("step")) if latest.exists() else 0


def _run_state(engine, cfg: TrainConfig, step: int, curve: dict) -> dict:
    world = current_shard().world
    return {"step": step, "world_size": world, "global_batch": global_batch(cfg, world),
            "micro_batch": cfg.micro_batch, "grad_accumulation": cfg.grad_accumulation,
            "zero_stage": engine.zero_optimization_stage(), "curve": {str(k): v for k, v in curve.items()}}


def save(engine, out_dir: Path, cfg: TrainConfig, step: int, curve: dict, extra=None) -> Path:
    """Checkpoint step `step` (every rank calls it: DeepSpeed's save is collective). `extra(tag_dir)` writes
    rank 0's own files (e.g. the weight average) before `latest` moves to this tag."""
    tag_dir = checkpoint_root(out_dir) / f"step{step}"
    if is_main():
        tag_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(tag_dir / RUN_STATE_FILE, _run_state(engine, cfg, step, curve))
        if extra is not None:
            extra(tag_dir)
    barrier()
    engine.save_checkpoint(str(checkpoint_root(out_dir)), tag=tag_dir.name, client_state={"step": step})
    if is_main() and cfg.keep_checkpoints:
        _prune(checkpoint_root(out_dir), cfg.keep_checkpoints)
    barrier()
    return tag_dir


def _prune(root: Path, keep: int) -> None:
    """Delete all but the newest `keep` step<N> tags (the one `latest` names is always among them)."""
    tags = sorted((p for p in root.glob("step*") if p.is_dir() and p.name[4:].isdigit()), key=lambda p: int(p.name[4:]))
    for old in tags[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def resume(engine, out_dir: Path, cfg: TrainConfig) -> tuple[int, dict[int, dict]]:
    """(step, validation curve) of the newest checkpoint, loaded into `engine`; (0, {}) without one. Refuses a
    checkpoint of another global batch or ZeRO stage, or of another world size under ZeRO 1-3."""
    step = latest_step(out_dir)
    if not step:
        return 0, {}
    tag_dir = checkpoint_root(out_dir) / f"step{step}"
    state_file = tag_dir / RUN_STATE_FILE
    if not state_file.exists():
        raise CheckpointMismatchError(f"{tag_dir}: no {RUN_STATE_FILE}, so the run shape that wrote it is unknown; "
                                      "start a new run in another folder")
    state = json.loads(state_file.read_text())
    world = current_shard().world
    problems = []
    if state["global_batch"] != global_batch(cfg, world):
        problems.append(f"global batch {state['global_batch']} (micro {state['micro_batch']} × accumulation "
                        f"{state['grad_accumulation']} × {state['world_size']} ranks) != this run's "
                        f"{global_batch(cfg, world)} ({cfg.micro_batch} × {cfg.grad_accumulation} × {world}); set "
                        "--train.grad-accumulation so the product matches")
    stage = engine.zero_optimization_stage()
    if state["zero_stage"] != stage:
        problems.append(f"ZeRO stage {state['zero_stage']} != this run's {stage}")
    elif stage > 0 and state["world_size"] != world:
        problems.append(f"ZeRO stage {stage} partitions were written by {state['world_size']} ranks, this "
                        f"run has {world}; resume with {state['world_size']} ranks (ZeRO stage 0 checkpoints "
                        "resume at any world size)")
    if problems:
        raise CheckpointMismatchError(f"{tag_dir}: cannot resume: " + "; ".join(problems))
    make_loads_safe(engine)
    engine.load_checkpoint(str(checkpoint_root(out_dir)), tag=tag_dir.name)
    log.info("resumed from step %d (written by %d rank(s))", step, state["world_size"])
    return step, {int(k): v for k, v in state.get("curve", {}).items()}
