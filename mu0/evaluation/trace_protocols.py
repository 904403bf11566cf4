"""Evaluation protocols for trace prediction, and scoring every method on one protocol's queries.

- `recipe` (the released evaluation): query frames 4, 8 and 12 of each test episode, 16 moving
  keypoints, no history, 5 samples.
- `dense`: every query frame, moving keypoints only, with history, so that constant velocity, which
  extrapolates the history, is a fair opponent.
- `all`: every query frame, keypoints as training draws them (moving first, then still ones), with
  history: the view in which "nothing moves" is hard to beat, reported beside the others.
Each method's headline (ADE, FDE, DTW, Fréchet) is its best single prediction: μ_0's deterministic
estimate (Euler from the noise's mean), a regressor's output, the tokenized VLM's greedy decode.
minADE/minFDE take the best of the sampled predictions; `mu0_sample` scores one random μ_0 sample and
`mu0_mean` the mean of μ_0's samples.
Positions are compared after undoing each model's normalisation. Shapes: m trajectories, s samples,
h steps, c channels.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from mu0.batch import (
    EPISODE,
    FUTURE,
    FUTURE_VALID,
    HISTORY,
    HISTORY_VALID,
    IMAGE,
    INTRINSICS,
    POINT_MASK,
    POINTS_UV,
    POINTS_Z,
    Z_VALID,
)
from mu0.evaluation.trace_metrics import trace_metrics_at
from mu0.models.baselines.kinematic import constant_velocity, static

SPACES = {"uv": slice(0, 2), "px": slice(3, 5), "depth": slice(2, 3), "xyz": slice(5, 8)}


@dataclasses.dataclass(frozen=True)
class EvalProtocol:
    name: str
    frames: tuple[int, ...] | None  # query frames scored (None: every one)
    moving_only: bool
    num_points: int | None  # keypoints per query (None: the data config's)
    history: bool  # models and constant velocity see the history


PROTOCOLS = {
    "recipe": EvalProtocol("recipe", (4, 8, 12), True, 16, False),
    "dense": EvalProtocol("dense", None, True, None, True),
    "all": EvalProtocol("all", None, False, None, True),
}
HEADLINE = "dense"  # the protocol whose table is the report's top-level `methods` (the registry gate's)


def positions(delta: np.ndarray, anchor_uv: np.ndarray, anchor_z: np.ndarray, z_ok: np.ndarray,
              intrinsics: np.ndarray, wh: np.ndarray) -> np.ndarray:
    """(…,m,h,3) anchor-relative (unit u, unit v, metres) → (…,m,h,8) channels: unit u v, z, pixel x y,
    camera-frame X Y Z. z and XYZ are NaN where the trajectory has no depth."""
    uv = anchor_uv[:, None] + delta[..., :2]
    z = np.where(z_ok[:, None], anchor_z[:, None] + delta[..., 2], np.nan)
    px = (uv + 1.0) * wh[:, None] / 2.0 - 0.5
    fx, fy, cx, cy = (intrinsics[:, i, j][:, None] for i, j in ((0, 0), (1, 1), (0, 2), (1, 2)))
    xyz = np.stack([(px[..., 0] - cx) * z / fx, (px[..., 1] - cy) * z / fy, z], axis=-1)
    return np.concatenate([uv, z[..., None], px, xyz], axis=-1)


@dataclasses.dataclass
class Collected:
    points: dict[str, np.ndarray]  # method → (1,m,h,8) best single prediction
    samples: dict[str, np.ndarray]  # method → (s,m,h,8) sampled predictions (minADE)
    truth: np.ndarray  # (m,h,8)
    valid: np.ndarray  # (m,h)
    episode: np.ndarray  # (m,) index into the dataset's paths


def _inputs(batch: dict, protocol: EvalProtocol, unit_ratio: torch.Tensor) -> dict:
    """The batch a model sees: its own history normalisation, or no history at all."""
    if not protocol.history:
        return {**batch, HISTORY_VALID: torch.zeros_like(batch[HISTORY_VALID])}
    return {**batch, HISTORY: batch[HISTORY] * unit_ratio}


def _model_predictions(models: dict, batch: dict, protocol: EvalProtocol, samples: int, seed: int, keep,
                       out: Collected, data_unit: torch.Tensor) -> None:
    for name, (model, scale, unit) in models.items():
        inputs = _inputs(batch, protocol, data_unit / unit)
        out.points.setdefault(name, []).append((model.predict_point(inputs) * scale).numpy()[keep][None])
        if samples > 0:
            torch.manual_seed(seed)
            drawn = (model.predict(inputs, samples) * scale).numpy()[:, keep]
            out.samples.setdefault(name, []).append(drawn)
            if name == "mu0":  # the other candidates for μ_0's point estimate, beside Euler from x = 0
                out.points.setdefault("mu0_sample", []).append(drawn[:1])
                out.points.setdefault("mu0_mean", []).append(drawn.mean(axis=0, keepdims=True))


def collect(models: dict, dataset, protocol: EvalProtocol, samples: int, seed: int, batch_size: int,
            ref_scale: torch.Tensor) -> Collected:
    """Every method's predictions on every query of `dataset`. `models` maps a name to (model, per-axis
    scale, history unit); the dataset's futures use `ref_scale` and its history the dataset's unit."""
    out = Collected({}, {}, [], [], [])  # type: ignore[arg-type]
    ctx = {k: [] for k in ("uv", "z", "z_ok", "K", "wh")}
    base = dataset.dataset if isinstance(dataset, torch.utils.data.Subset) else dataset
    data_unit = torch.as_tensor(base.history_unit)
    for i, batch in enumerate(torch.utils.data.DataLoader(dataset, batch_size=batch_size)):
        keep = batch[POINT_MASK].numpy()
        _model_predictions(models, batch, protocol, samples, seed * 7919 + i, keep, out, data_unit)
        h = batch[FUTURE].shape[2]
        history_valid = batch[HISTORY_VALID] if protocol.history else torch.zeros_like(batch[HISTORY_VALID])
        out.points.setdefault("static", []).append(static(batch[HISTORY], h).numpy()[keep][None])
        cv = constant_velocity(batch[HISTORY] * data_unit, history_valid, h)
        out.points.setdefault("constant_velocity", []).append(cv.numpy()[keep][None])
        out.truth.append((batch[FUTURE] * ref_scale).numpy()[keep])
        out.valid.append(batch[FUTURE_VALID].numpy()[keep])
        n = keep.shape[1]
        ctx["uv"].append(batch[POINTS_UV].numpy()[keep])
        ctx["z"].append(batch[POINTS_Z].numpy()[keep])
        ctx["z_ok"].append(np.repeat(batch[Z_VALID].numpy()[:, None], n, 1)[keep])
        ctx["K"].append(np.repeat(batch[INTRINSICS].numpy()[:, None], n, 1)[keep])
        wh = np.array(batch[IMAGE].shape[-1:-3:-1], np.float32)
        ctx["wh"].append(np.repeat(wh[None], keep.sum(), 0))
        out.episode.append(np.repeat(batch[EPISODE].numpy()[:, None], n, 1)[keep])
    cat = {k: np.concatenate(v) for k, v in ctx.items()}
    place = lambda d: positions(d, cat["uv"], cat["z"], cat["z_ok"], cat["K"], cat["wh"])  # noqa: E731
    return Collected({k: place(np.concatenate(v, axis=1)) for k, v in out.points.items()},
                     {k: place(np.concatenate(v, axis=1)) for k, v in out.samples.items()},
                     place(np.concatenate(out.truth)), np.concatenate(out.valid), np.concatenate(out.episode))


def score(c: Collected, rows: np.ndarray, horizons: list[int]) -> dict:
    """{method: {horizon: metrics}} on the trajectories `rows`: ADE and the rest from the best single
    prediction, minADE/minFDE from the samples (= the single prediction for deterministic methods)."""
    out = {}
    for name, point in c.points.items():
        args = (c.truth[rows], c.valid[rows], horizons, SPACES, c.episode[rows])
        single = trace_metrics_at(point[:, rows], *args)
        if name in c.samples:
            drawn = trace_metrics_at(c.samples[name][:, rows], *args)
            for h, m in single.items():
                m["samples"] = drawn[h]["samples"]
                for key, value in drawn[h].items():
                    if key.startswith(("minade_", "minfde_")):
                        m[key] = value
        out[name] = {str(h): m for h, m in single.items()}
    return out
