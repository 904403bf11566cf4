"""The validation curve of pretraining: at intervals, the val split's loss and the uv ADE of the model's point
estimate on its moving keypoints, logged beside the training loss so that a run shows whether it was still
improving when it stopped (the question a budget is chosen by).

The ADE is over the full horizon, with the history the val samples carry, on up to `max_samples` query
frames spread evenly over the split (the same ones every time), in unit image coordinates: the normalised
prediction times the dataset's per-axis scale. It is a training signal, not the evaluation: `mu0 evaluate
traces` scores the test split against the simulator's truth.
"""

from __future__ import annotations

import numpy as np
import torch

from mu0.batch import FUTURE, FUTURE_VALID, IS_MOVING, POINT_MASK
from mu0.traces.normalize import DeltaStats


def evenly_spread(dataset, max_samples: int) -> torch.utils.data.Dataset:
    """At most `max_samples` items of `dataset`, evenly spaced (all of them when it is smaller)."""
    if len(dataset) <= max_samples:
        return dataset
    return torch.utils.data.Subset(dataset, np.linspace(0, len(dataset) - 1, max_samples).round().astype(int).tolist())


@torch.no_grad()
def moving_ade_uv(model: torch.nn.Module, dataset, stats: DeltaStats, batch_size: int = 16) -> float:
    """Mean over moving keypoints' valid future steps of the uv distance between the point estimate and the
    target (NaN when the samples hold no moving keypoint with a valid step)."""
    was_training = model.training
    model.eval()
    scale = torch.tensor(stats.scale[:2], dtype=torch.float32)
    total, count = 0.0, 0
    for batch in torch.utils.data.DataLoader(dataset, batch_size=batch_size):
        predicted = model.predict_point(batch)[..., :2].float()
        error = torch.linalg.vector_norm((predicted - batch[FUTURE][..., :2].float()) * scale, dim=-1)  # (b,n,h)
        keep = batch[FUTURE_VALID] & (batch[IS_MOVING] & batch[POINT_MASK])[..., None]
        total += float(error[keep].sum())
        count += int(keep.sum())
    model.train(was_training)
    return total / count if count else float("nan")
