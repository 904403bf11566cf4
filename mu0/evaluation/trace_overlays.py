"""Pictures of predicted against true traces on the query frame, one per picked test query."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from mu0.batch import EPISODE, FRAME, FUTURE, FUTURE_VALID, HISTORY_VALID, IMAGE, POINT_MASK, POINTS_UV
from mu0.evaluation.overlays import save_png

TRUTH = (230, 30, 30)
PALETTE = [(40, 120, 255), (255, 170, 0), (60, 200, 60), (200, 60, 220), (0, 200, 200)]


def _polyline(img, pts: np.ndarray, colour, scale: int) -> None:
    import cv2

    pts = pts[np.all(np.isfinite(pts), axis=-1)]
    if len(pts) >= 2:
        cv2.polylines(img, [np.round((pts + 0.5) * scale).astype(np.int32)], False, colour, 1, cv2.LINE_AA)


def draw_traces(image: np.ndarray, anchors_uv: np.ndarray, truth: np.ndarray, valid: np.ndarray,
                predicted: dict[str, np.ndarray], scale: int = 4) -> np.ndarray:
    """`image` (h,w,3); anchors (n,2) unit uv; truth and each prediction (n,h,≥2) unit-uv deltas; truth in
    red over its valid steps, predictions in the palette's colours with a legend."""
    import cv2

    h, w = image.shape[:2]
    img = cv2.resize(np.ascontiguousarray(image), None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    to_px = lambda d: (anchors_uv[:, None] + d[..., :2] + 1.0) * np.array([w, h]) / 2.0 - 0.5  # noqa: E731
    for k, (name, pred) in enumerate(predicted.items()):
        colour = PALETTE[k % len(PALETTE)]
        for line in to_px(pred):
            _polyline(img, line, colour, scale)
        cv2.putText(img, name, (4, 14 + 14 * (k + 1)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1)
    for line, ok in zip(to_px(truth), valid, strict=True):
        _polyline(img, np.where(ok[:, None], line, np.nan), TRUTH, scale)
    cv2.putText(img, "truth", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, TRUTH, 1)
    return img


@torch.no_grad()
def write_trace_overlays(models: dict, dataset, out_dir: Path, count: int = 4, seed: int = 0) -> list[Path]:
    """For `count` queries spread over the dataset: every model's best single prediction (μ_0's
    deterministic estimate) and the truth, without history. `models` maps a name to (model, per-axis
    scale, history unit); the dataset's futures use the first model's scale."""
    paths = []
    ref_scale = next(iter(models.values()))[1].numpy()
    for idx in np.linspace(0, len(dataset) - 1, min(count, len(dataset))).round().astype(int):
        item = dataset[int(idx)]
        batch = torch.utils.data.default_collate([item])
        batch[HISTORY_VALID] = torch.zeros_like(batch[HISTORY_VALID])
        keep = item[POINT_MASK].numpy()
        torch.manual_seed(seed)
        preds = {name: (m.predict_point(batch)[0] * s).numpy()[keep] for name, (m, s, _) in models.items()}
        truth = item[FUTURE].numpy()[keep] * ref_scale
        image = item[IMAGE].permute(1, 2, 0).numpy()
        picture = draw_traces(image, item[POINTS_UV].numpy()[keep], truth, item[FUTURE_VALID].numpy()[keep], preds)
        episode = Path(dataset.paths[int(item[EPISODE])]).name
        paths.append(save_png(picture, Path(out_dir) / f"{episode}-f{int(item[FRAME]):04d}.png"))
    return paths
