"""Named presets: `debug` runs every stage in seconds, `tiny` is the demo, `small` the benchmark scale, `recipe`
the small scale with the released recipe's trace protocol."""

from __future__ import annotations

import dataclasses
import difflib
import functools

from mu0.config import (
    ActionExpertConfig,
    BackboneConfig,
    MetaWorldSourceConfig,
    Mu0Config,
    PolicyDataConfig,
    RolloutConfig,
    TraceDataConfig,
    TraceExpertConfig,
    TraceExtractConfig,
    TrainConfig,
    WorldModelConfig,
)


def _debug() -> Mu0Config:
    return Mu0Config(
        preset="debug",
        metaworld=MetaWorldSourceConfig(
            tasks=("reach-v3", "push-v3", "drawer-open-v3"), episodes_per_task=2, cameras=("front",), size=64,
            max_steps=24
        ),
        extract=TraceExtractConfig(tracker="auto", future_len=32, history_len=8, max_points_per_frame=32,
                                   min_coverage=0.1),
        data=TraceDataConfig(num_points=8, train_fraction=0.5, val_fraction=0.2),
        model=WorldModelConfig(backbone=BackboneConfig(image_size=32), expert=TraceExpertConfig(width=32, layers=2),
                               horizon=16, history=4),
        train=TrainConfig(steps=30, micro_batch=4, warmup_steps=3, checkpoint_every=10, log_every=5, lr=2e-3,
                          val_every=10, val_samples=16),
        policy=ActionExpertConfig(grid=4, width=32, layers=2, chunk=4),
        policy_data=PolicyDataConfig(demos_per_task=2, successful_only=False),  # 24 steps: experts rarely finish
        finetune=TrainConfig(steps=20, micro_batch=8, warmup_steps=2, checkpoint_every=10, log_every=5, lr=1e-3),
        rollout=RolloutConfig(episodes_per_task=2, max_steps=24, workers=1, execute=2),
    )


def _tiny() -> Mu0Config:
    return Mu0Config(
        preset="tiny",
        metaworld=MetaWorldSourceConfig(episodes_per_task=2, size=128, max_steps=150, workers=2),
        extract=TraceExtractConfig(tracker="auto", workers=2),
        # batch 16: at the same steps 13–16% lower val ADE than 8 for a quarter more time (docs/results.md)
        train=TrainConfig(steps=1500, micro_batch=16, warmup_steps=100, checkpoint_every=500, log_every=50, lr=1e-3,
                          val_every=500),
        finetune=TrainConfig(steps=200, micro_batch=16, warmup_steps=20, checkpoint_every=100, log_every=20,
                              lr=5e-4),
        rollout=RolloutConfig(episodes_per_task=3, max_steps=150, workers=2),
    )


def _small() -> Mu0Config:
    return Mu0Config(
        preset="small",
        metaworld=MetaWorldSourceConfig(episodes_per_task=10, size=128, max_steps=200, workers=2),
        extract=TraceExtractConfig(tracker="auto", workers=2),
        model=WorldModelConfig(backbone=BackboneConfig(text_hidden=128, text_layers=4, vision_hidden=128,
                                                       vision_layers=4, image_size=128, patch_size=16),
                               expert=TraceExpertConfig(width=128, layers=6)),
        # lr 1e-3: at 2000 steps μ_0's val ADE is 23% (no history) and 18% (history) lower than at 3e-4
        train=TrainConfig(steps=3000, micro_batch=16, warmup_steps=100, checkpoint_every=500, log_every=50,
                          val_every=500, lr=1e-3, num_workers=2),
        policy=ActionExpertConfig(grid=8, pool=2, width=128, layers=4, chunk=8),
        # val_every: the success-vs-steps curve's interval when `mu0 finetune --val-episodes-per-task` asks for it
        finetune=TrainConfig(steps=2000, micro_batch=16, warmup_steps=100, checkpoint_every=500, log_every=50,
                              lr=3e-4, val_every=500),
        rollout=RolloutConfig(episodes_per_task=10, max_steps=200, workers=2),
    )


def _recipe() -> Mu0Config:
    """`small` with the released recipe's trace protocol, kept to compare against: retargeting every 0.05,
    the delta scale over all rows, history unscaled, the clip at 1.5, K = 10 valid steps to train and no
    constant-velocity prior."""
    small = _small()
    return dataclasses.replace(
        small, preset="recipe",
        extract=dataclasses.replace(small.extract, retarget_interval=0.05, retarget_top_fraction=0.02),
        data=dataclasses.replace(small.data, delta_rows="all", scale_history=False, min_valid_steps=10),
        model=dataclasses.replace(small.model, expert=dataclasses.replace(small.model.expert, ctrl_clip=1.5,
                                                                          prior="none")),
    )


PRESETS = {"debug": _debug, "tiny": _tiny, "small": _small, "recipe": _recipe}


class UnknownPresetError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


@functools.cache
def get_preset(name: str) -> Mu0Config:
    """The preset called `name`, with a did-you-mean hint when it does not exist."""
    if name not in PRESETS:
        close = difflib.get_close_matches(name, PRESETS, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise UnknownPresetError(f"unknown preset '{name}'; valid: {', '.join(PRESETS)}.{hint}")
    return PRESETS[name]()
