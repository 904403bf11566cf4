"""How a model is optimised: DeepSpeed's engine, the schedule, checkpoints, validation and budgets."""

from __future__ import annotations

import dataclasses

from mu0.config.base import require


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation of μ_0 with DeepSpeed (the recipe: AdamW β=(0.9, 0.95), lr 1e-4, clip 10, warmup,
    cosine decay), scaled down."""

    # Optimizer steps.
    steps: int = 200
    # Samples per micro-batch (per rank).
    micro_batch: int = 8
    # Micro-batches per optimizer step.
    grad_accumulation: int = 1
    # Peak learning rate (AdamW).
    lr: float = 1e-4
    # Learning rate at the end of the cosine decay.
    min_lr: float = 2.5e-6
    # Linear warmup steps.
    warmup_steps: int = 20
    # AdamW weight decay.
    weight_decay: float = 1e-10
    # Gradient norm clip.
    grad_clip: float = 10.0
    # ZeRO stage of the shipped DeepSpeed config mu0/training/deepspeed/zero<stage>.json (0 on a CPU; 1-3
    # shard optimizer state / gradients / weights across ranks).
    zero_stage: int = 0
    # A DeepSpeed JSON of your own instead of the shipped one (its zero_optimization, precision, communication
    # settings); the batch sizes, accumulation and clipping still come from these fields, and the optimizer and
    # schedule are mu0's, so the file must not set them.
    deepspeed_config: str = ""
    # Save a resumable checkpoint every this many steps (0: only at the end).
    checkpoint_every: int = 50
    # Keep the newest this many checkpoints, deleting older ones as new ones land (0: keep all).
    keep_checkpoints: int = 3
    # Log metrics every this many steps.
    log_every: int = 10
    # Pretraining: score the val split (loss, and uv ADE of the point estimate on moving keypoints, over up
    # to `val_samples` query frames) every this many steps, and at the end (0: at the end only). Fine-tuning:
    # the interval of the success-vs-steps rollouts (`mu0 finetune --val-episodes-per-task`).
    val_every: int = 0
    # Query frames scored at each validation point.
    val_samples: int = 256
    # Pretraining: keep an exponential moving average of the weights with this decay per optimizer step
    # (0: off; diffusion and flow policies commonly use 0.999); the validation curve and the saved model are
    # then the average's.
    ema_decay: float = 0.0
    # Stop after this many minutes of training (0: no limit), with a checkpoint and the model saved; the
    # learning-rate schedule stays the one of `steps`. A wall-clock budget for comparing models.
    max_minutes: float = 0.0
    # DataLoader worker processes.
    num_workers: int = 0
    # Seed of the sample order, the noise and the augmentation (a run is exactly reproducible).
    seed: int = 0

    def __post_init__(self) -> None:
        require(self.steps >= 1 and self.micro_batch >= 1, "steps", "steps and micro_batch must be >= 1")
        require(self.grad_accumulation >= 1, "grad_accumulation", "must be >= 1")
        require(self.val_every >= 0 and self.val_samples >= 1, "val_every", "val_every >= 0, val_samples >= 1")
        require(self.zero_stage in (0, 1, 2, 3), "zero_stage", "must be 0, 1, 2 or 3")
        require(self.keep_checkpoints >= 0, "keep_checkpoints", "must be >= 0 (0 = keep all)")
        require(0.0 <= self.ema_decay < 1.0, "ema_decay", "must be in [0, 1) (0 = off)")
        require(not (self.ema_decay and self.zero_stage == 3), "ema_decay",
                "cannot average weights that ZeRO stage 3 partitions across ranks (use stage 0-2)")
        require(0 < self.min_lr <= self.lr, "min_lr", "must be > 0 and <= lr")
