"""Trace prediction on held-out episodes: μ_0, the learned baselines and the kinematic ones, on the
same queries, at several horizons, in several spaces.

Every learned model predicts without history (as the released evaluation scores μ_0), several samples
per query (minADE/minFDE take the best, the rest score the first); `mu0+history` also gives μ_0 the
history the constant-velocity baseline uses. Predictions and truth are compared as absolute positions
after undoing each model's normalisation, in: uv ([-1, 1] image units), px (pixels), depth (metres)
and xyz (camera-frame metres, back-projected with the frame's intrinsics); depth and xyz only where the
episode has depth. Intervals: cluster bootstrap over episodes. When tasks were held out of training,
their test episodes are scored separately.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from mu0.config import TraceDataConfig
from mu0.evaluation.trace_metrics import trace_metrics_at
from mu0.evaluation.trace_overlays import write_trace_overlays
from mu0.models.baselines.kinematic import constant_velocity, static
from mu0.models.registry import load_model
from mu0.traces.build import build_datasets
from mu0.traces.normalize import DeltaStats

STATS_FILE = "delta_stats.json"
SPACES = {"uv": slice(0, 2), "px": slice(3, 5), "depth": slice(2, 3), "xyz": slice(5, 8)}


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


def _collect(models: dict, dataset, samples: int, seed: int, batch_size: int, ref_scale: torch.Tensor):
    preds: dict[str, list[np.ndarray]] = {}
    gts, valids, ctx = [], [], {k: [] for k in ("uv", "z", "z_ok", "K", "wh", "episode")}
    for i, batch in enumerate(torch.utils.data.DataLoader(dataset, batch_size=batch_size)):
        keep = batch["point_mask"].numpy()
        no_history = dict(batch, history_valid=torch.zeros_like(batch["history_valid"]))
        for name, (model, scale) in models.items():
            runs = [(name, no_history)] + ([(f"{name}+history", batch)] if model.kind == "mu0" else [])
            for label, inputs in runs:
                torch.manual_seed(seed * 7919 + i)
                preds.setdefault(label, []).append((model.predict(inputs, samples) * scale).numpy()[:, keep])
        h = batch["future"].shape[2]
        preds.setdefault("static", []).append(static(batch["history"], h).numpy()[keep][None])
        cv = constant_velocity(batch["history"], batch["history_valid"], h)
        preds.setdefault("constant_velocity", []).append(cv.numpy()[keep][None])
        gts.append((batch["future"] * ref_scale).numpy()[keep])
        valids.append(batch["future_valid"].numpy()[keep])
        n = keep.shape[1]
        ctx["uv"].append(batch["points_uv"].numpy()[keep])
        ctx["z"].append(batch["points_z"].numpy()[keep])
        ctx["z_ok"].append(np.repeat(batch["z_valid"].numpy()[:, None], n, 1)[keep])
        ctx["K"].append(np.repeat(batch["intrinsics"].numpy()[:, None], n, 1)[keep])
        wh = np.array(batch["image"].shape[-1:-3:-1], np.float32)
        ctx["wh"].append(np.repeat(wh[None], keep.sum(), 0))
        ctx["episode"].append(np.repeat(batch["episode"].numpy()[:, None], n, 1)[keep])
    cat = {k: np.concatenate(v) for k, v in ctx.items()}
    place = lambda d: positions(d, cat["uv"], cat["z"], cat["z_ok"], cat["K"], cat["wh"])  # noqa: E731
    return ({k: place(np.concatenate(v, axis=1)) for k, v in preds.items()}, place(np.concatenate(gts)),
            np.concatenate(valids), cat["episode"])


def _score(preds: dict, gt, valid, groups, rows: np.ndarray, horizons: list[int]) -> dict:
    return {name: {str(h): m for h, m in trace_metrics_at(p[:, rows], gt[rows], valid[rows], horizons, SPACES,
                                                          groups[rows]).items()} for name, p in preds.items()}


@torch.no_grad()
def evaluate_traces(model_dirs: dict[str, Path] | Path, traces_dir: Path, data_cfg: TraceDataConfig,
                    split: str = "test", samples: int = 5, horizons: tuple[int, ...] = (8, 16, 32),
                    accepted: set[str] | None = None, batch_size: int = 16, seed: int = 0,
                    overlay_dir: Path | None = None, max_queries: int = 0) -> dict:
    """`model_dirs` maps a method name to a model folder (any kind); the first sets horizon, history and
    the normalisation the data is built with. Overlay pictures go to `overlay_dir` when given;
    `max_queries` > 0 scores that many query frames spread evenly over the split (n is reported)."""
    if not isinstance(model_dirs, dict):
        model_dirs = {"mu0": Path(model_dirs)}
    models = {}
    for name, folder in model_dirs.items():
        model = load_model(folder).eval()
        stats = DeltaStats.load(Path(folder) / STATS_FILE)
        models[name] = (model, torch.tensor(stats.scale, dtype=torch.float32))
    first = next(iter(models.values()))[0].cfg
    for name, (model, _) in models.items():
        if (model.cfg.horizon, model.cfg.history) != (first.horizon, first.history):
            raise ValueError(f"{model_dirs[name]}: horizon/history {model.cfg.horizon}/{model.cfg.history} differ "
                             f"from {first.horizon}/{first.history} of the first model; they must match")
    cfg = dataclasses.replace(data_cfg, horizon=first.horizon, history=first.history)
    ref_stats = DeltaStats.load(Path(next(iter(model_dirs.values()))) / STATS_FILE)
    datasets, _, splits = build_datasets(traces_dir, cfg, accepted, ref_stats)
    used = split if len(datasets[split]) else "val"
    dataset = datasets[used]
    if not len(dataset):
        raise ValueError(f"{traces_dir}: the {split} and val splits are empty; nothing to evaluate")
    ref_scale = next(iter(models.values()))[1]
    scored = dataset
    if 0 < max_queries < len(dataset):
        picks = np.linspace(0, len(dataset) - 1, max_queries).round().astype(int).tolist()
        scored = torch.utils.data.Subset(dataset, picks)
    preds, gt, valid, groups = _collect(models, scored, samples, seed, batch_size, ref_scale)
    usable = [h for h in horizons if h <= first.horizon]
    tasks = [_task(p) for p in dataset.paths]
    held = np.array([tasks[e] in cfg.holdout_tasks for e in groups])
    report = {"split": used, "episodes": len(splits[used]), "queries": len(scored), "samples": samples,
              "units": "uv: [-1, 1] image units (1.0 = half the image); px: pixels; depth, xyz: metres "
                       "(camera frame)", "interval": "95% cluster bootstrap over episodes",
              "models": {k: str(v) for k, v in model_dirs.items()},
              "methods": _score(preds, gt, valid, groups, np.flatnonzero(~held), usable)}
    if held.any():
        report["heldout_tasks"] = {"tasks": sorted(set(cfg.holdout_tasks)),
                                   "episodes": len({int(g) for g in groups[held]}),
                                   "methods": _score(preds, gt, valid, groups, np.flatnonzero(held), usable)}
    if overlay_dir is not None:
        report["overlays"] = [str(p) for p in write_trace_overlays(models, dataset, overlay_dir, seed=seed)]
    return report


def _task(path: Path) -> str:
    meta = path / "meta.json"
    return str(json.loads(meta.read_text()).get("task", "")) if meta.exists() else ""


def _cell(m: dict, key: str) -> str:
    ci = m.get(f"{key}_ci95")
    return f"{m[key]:.4f}" + (f" [{ci[0]:.4f}, {ci[1]:.4f}]" if ci else "")


def markdown_table(report: dict, keys=("ade_uv", "fde_uv", "minade_uv", "ade_px", "ade_depth", "ade_xyz",
                                       "dtw_uv", "frechet_uv")) -> str:
    lines = [f"# Trace prediction on the {report['split']} split ({report['episodes']} episodes, "
             f"{report['queries']} query frames, best of {report['samples']} for min*)", "",
             f"Units: {report['units']}. Brackets: {report['interval']}.", ""]
    sections = [("Tasks seen in training", report["methods"])]
    if "heldout_tasks" in report:
        sections.append((f"Held-out tasks ({', '.join(report['heldout_tasks']['tasks'])})",
                         report["heldout_tasks"]["methods"]))
    for title, methods in sections:
        lines += [f"## {title}", "", "| method | horizon | n | " + " | ".join(keys) + " |",
                  "|---|---|---|" + "---|" * len(keys)]
        for method, per_h in methods.items():
            for h, m in per_h.items():
                lines.append(f"| {method} | {h} | {m['trajectories']} | " + " | ".join(_cell(m, k) for k in keys)
                             + " |")
        lines.append("")
    return "\n".join(lines)
