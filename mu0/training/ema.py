"""An exponential moving average of a model's weights (torch's AveragedModel), kept beside each DeepSpeed
checkpoint as safetensors, so a resumed run continues the same average and nothing is unpickled."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

EMA_FILE = "ema.safetensors"


def make_ema(model: torch.nn.Module, decay: float) -> AveragedModel | None:
    """An average of `model`'s parameters and buffers, updated with `decay` per call; None when decay is 0.
    Build it before DeepSpeed wraps the model, so the copy carries none of the engine's hooks."""
    if not decay:
        return None
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def save_ema(ema: AveragedModel, folder: Path) -> None:
    """Write the average (and how many updates it holds) into a checkpoint folder, atomically."""
    from safetensors.torch import save_file

    path = Path(folder) / EMA_FILE
    tmp = path.with_suffix(".tmp")
    save_file({k: v.detach().contiguous().clone() for k, v in ema.state_dict().items()}, str(tmp))
    os.replace(tmp, path)


def load_ema(ema: AveragedModel, folder: Path) -> None:
    from safetensors.torch import load_file

    path = Path(folder) / EMA_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path}: this checkpoint holds no weight average, but --train.ema-decay is set; "
                                "resume with the decay it was trained with (0 if none), or start a new run")
    ema.load_state_dict(load_file(str(path)))
