"""The DeepSpeed engine around a model: ZeRO config from infra/deepspeed, AdamW, warmup + cosine LR.

One process runs in-process (the distributed environment variables are filled in when missing, on
127.0.0.1); several processes or hosts come from the `deepspeed` launcher, which sets them itself.
"""

from __future__ import annotations

import json
import math
import os
import socket
from pathlib import Path

import torch

from mu0.config import TrainConfig
from mu0.training.ds_ops import build_cpu_comm_op

ZERO_DIR = Path(__file__).resolve().parents[2] / "infra" / "deepspeed"


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


def deepspeed_config(cfg: TrainConfig) -> dict:
    base = json.loads((ZERO_DIR / f"zero{cfg.zero_stage}.json").read_text())
    base.update(train_micro_batch_size_per_gpu=cfg.micro_batch, gradient_accumulation_steps=cfg.grad_accumulation,
                gradient_clipping=cfg.grad_clip)
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
    if engine.dp_world_size == 1 and cfg.zero_stage == 0:
        engine.enable_backward_allreduce = False  # one data-parallel rank: nothing to reduce, skip the copies
    return engine, scheduler
