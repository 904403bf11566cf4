"""Every trainable trace model by its kind: μ_0 and the learned baselines share one interface —
`compute_loss(batch)` (what DeepSpeed trains), `predict(batch, num_samples)` → normalised traces
(s,b,n,h,3), and `save_pretrained` / `from_pretrained` folders with config.json + model.safetensors."""

from __future__ import annotations

from pathlib import Path

from mu0.bundle.files import CONFIG_FILE
from mu0.config import TokenizedVLMConfig, TrackTransformerConfig, WorldModelConfig
from mu0.models.baselines.tokenized_vlm import TokenizedVLM
from mu0.models.baselines.track_transformer import TrackTransformer
from mu0.models.checkpoint import CheckpointError, read_kind
from mu0.models.world_model import Mu0WorldModel

MODELS = {cls.kind: cls for cls in (Mu0WorldModel, TrackTransformer, TokenizedVLM)}
KINDS = tuple(MODELS)


def config_for(kind: str, world: WorldModelConfig):
    """The config of a model of `kind` sized like μ_0's `world` config (the baselines' same budget)."""
    if kind == "mu0":
        return world
    if kind == "track-transformer":
        return TrackTransformerConfig.like(world)
    if kind == "tokenized-vlm":
        return TokenizedVLMConfig.like(world)
    raise ValueError(f"unknown model kind '{kind}'; valid: {', '.join(KINDS)}")


def build_model(cfg):
    for cls in MODELS.values():
        if isinstance(cfg, cls.config_class):
            return cls(cfg)
    raise TypeError(f"no model takes a {type(cfg).__name__}")


def load_model(folder: Path, expect=None):
    """Any model folder, whatever its kind (config.json says which)."""
    kind, _ = read_kind(Path(folder))
    if kind not in MODELS:
        raise CheckpointError(f"{Path(folder) / CONFIG_FILE}: unknown model kind '{kind}'; valid: {', '.join(KINDS)}")
    return MODELS[kind].from_pretrained(folder, expect)
