"""The DeepSpeed engine around a model: the shipped ZeRO config (package data, mu0/training/deepspeed/) or
the user's own DeepSpeed JSON, AdamW, warmup + cosine LR in optimizer steps.

One process runs in-process (the distributed environment variables are filled in when missing, on
127.0.0.1); several processes or hosts come from a launcher (`deepspeed`, `torchrun`), which sets them itself.
The global batch is micro × accumulation × world size; the schedule counts optimizer steps, so it follows it.
"""

from __future__ import annotations

import importlib.resources
import json
import math
import os
import socket
from pathlib import Path

import torch

from mu0.config import TrainConfig
from mu0.training.ds_ops import build_cpu_comm_op, unlink_allreduce_buffer
from mu0.training.errors import RunRefused

# Set by mu0 from TrainConfig (a user's JSON may repeat them only with the same values) or owned by mu0.
TRAIN_KEYS = {"train_micro_batch_size_per_gpu": "micro_batch", "gradient_accumulation_steps": "grad_accumulation",
              "gradient_clipping": "grad_clip"}
OWNED_KEYS = ("optimizer", "scheduler", "train_batch_size")


class DeepSpeedConfigError(RunRefused):
    """A user's DeepSpeed JSON that cannot be used as given."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_single_process_env() -> None:
    """DeepSpeed needs a process group even for one process; a launcher sets these, we default them.
    A one-process group has no peers to agree on a port with, so unless this process already has a group
    it gets a fresh port: an inherited MASTER_PORT may still be held by the parent's own group."""
    import torch.distributed as dist

    defaults = {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1"}
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    if os.environ["WORLD_SIZE"] == "1" and not (dist.is_available() and dist.is_initialized()):
        os.environ["MASTER_PORT"] = str(_free_port())


def shipped_config(zero_stage: int) -> dict:
    shipped = importlib.resources.files("mu0.training").joinpath(f"deepspeed/zero{zero_stage}.json")
    return json.loads(shipped.read_text())


def _user_config(path: Path, cfg: TrainConfig) -> dict:
    try:
        user = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise DeepSpeedConfigError(f"{path}: cannot read it as a DeepSpeed JSON ({err})") from None
    if not isinstance(user, dict):
        raise DeepSpeedConfigError(f"{path}: a DeepSpeed config is a JSON object, got {type(user).__name__}")
    owned = [k for k in OWNED_KEYS if k in user]
    if owned:
        raise DeepSpeedConfigError(f"{path}: remove {', '.join(owned)}: mu0 sets the optimizer (AdamW) and the "
                                   "warmup + cosine schedule itself, and the global batch is micro × accumulation × "
                                   "ranks (--train.micro-batch, --train.grad-accumulation)")
    clash = [f"{k} {user[k]} != --train.{field.replace('_', '-')} {getattr(cfg, field)}"
             for k, field in TRAIN_KEYS.items() if k in user and user[k] != getattr(cfg, field)]
    if clash:
        raise DeepSpeedConfigError(f"{path}: {'; '.join(clash)}: set them with the mu0 options (or drop them here)")
    return user


def deepspeed_config(cfg: TrainConfig) -> dict:
    """The shipped ZeRO config of cfg.zero_stage, or the user's cfg.deepspeed_config, with mu0's batch fields."""
    base = _user_config(Path(cfg.deepspeed_config), cfg) if cfg.deepspeed_config else shipped_config(cfg.zero_stage)
    base.update({key: getattr(cfg, field) for key, field in TRAIN_KEYS.items()})
    return base


def lr_lambda(cfg: TrainConfig):
    """Linear warmup to lr, then cosine decay to min_lr at the last step (as a factor of lr)."""
    # kept: transformers' get_cosine_with_min_lr_schedule_with_warmup decays the same (diff 0) but warms up lr/w lower
    floor = cfg.min_lr / cfg.lr

    def factor(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps  # from lr/w, not 0: no step is spent at LR 0
        progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def make_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig) -> torch.optim.lr_scheduler.LRScheduler:
    """The LR schedule stepped once per optimizer step (by the engine)."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(cfg))


def make_engine(model: torch.nn.Module, cfg: TrainConfig):
    """(engine, scheduler). The optimizer is torch's AdamW (β 0.9/0.95): no compiled CPU ops needed."""
    import deepspeed

    ensure_single_process_env()
    build_cpu_comm_op()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, betas=(0.9, 0.95), weight_decay=cfg.weight_decay)
    scheduler = make_scheduler(optimizer, cfg)
    engine, _, _, scheduler = deepspeed.initialize(model=model, optimizer=optimizer, lr_scheduler=scheduler,
                                                   config=deepspeed_config(cfg), dist_init_required=True)
    unlink_allreduce_buffer()
    if engine.dp_world_size == 1 and engine.zero_optimization_stage() == 0:
        engine.enable_backward_allreduce = False  # one data-parallel rank: nothing to reduce, skip the copies
    return engine, scheduler
