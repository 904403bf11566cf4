"""The depth image's colour range, measured once on the training split and then part of the model's config."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from mu0.models.depth_image import log_depth_range
from mu0.models.registry import load_model

FRAMES_PER_EPISODE = 8  # evenly spaced frames per training episode: the percentiles settle long before all frames


def with_depth_range(model_cfg, train_paths: list[Path], init_from: Path | None = None):
    """`model_cfg` with backbone.depth_log_range set: kept when given, else the warm start's when it has
    one, else the 1st–99th percentile of log depth over the training episodes' depth.npy."""
    backbone = model_cfg.backbone
    if tuple(backbone.depth_log_range) != (0.0, 0.0):
        return model_cfg
    measured = tuple(getattr(load_model(init_from).cfg, "backbone", backbone).depth_log_range) \
        if init_from is not None else (0.0, 0.0)
    if measured == (0.0, 0.0):  # no warm start, or one that never read depth
        frames = []
        for path in train_paths:
            if (path / "depth.npy").exists():
                depth = np.load(path / "depth.npy", mmap_mode="r")
                picks = np.unique(np.linspace(0, len(depth) - 1, FRAMES_PER_EPISODE).round().astype(int))
                frames.extend(np.asarray(depth[i], np.float32) for i in picks)
        if not frames:
            raise ValueError(f"backbone.depth_image needs depth: none of the {len(train_paths)} training episodes "
                             f"has depth.npy (first: {train_paths[0] if train_paths else 'none'})")
        measured = log_depth_range(frames)
    return dataclasses.replace(model_cfg, backbone=dataclasses.replace(backbone, depth_log_range=measured))
