"""μ_0 against the kinematic baselines on held-out trace episodes, at several horizons.

μ_0 is scored as the released evaluation does it: no history, several samples per query (minADE/minFDE
take the best, the rest score the first); `mu0_with_history` also gives it the history the
constant-velocity baseline uses, for a like-for-like comparison. Everything is compared in anchor-relative (u, v) unit
coordinates and metres, after undoing the model's normalisation.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from mu0.config import TraceDataConfig
from mu0.evaluation.trace_metrics import trace_metrics_at
from mu0.models.baselines.kinematic import constant_velocity, static
from mu0.models.world_model import Mu0WorldModel
from mu0.traces.build import build_datasets
from mu0.traces.normalize import DeltaStats

STATS_FILE = "delta_stats.json"


def _collect(model, dataset, scale, samples: int, seed: int, batch_size: int):
    preds: dict[str, list[np.ndarray]] = {"mu0": [], "mu0_with_history": [], "static": [], "constant_velocity": []}
    gts, valids = [], []
    for i, batch in enumerate(torch.utils.data.DataLoader(dataset, batch_size=batch_size)):
        keep = batch["point_mask"].numpy()
        no_history = dict(batch, history_valid=torch.zeros_like(batch["history_valid"]))
        for name, inputs in (("mu0", no_history), ("mu0_with_history", batch)):
            torch.manual_seed(seed * 7919 + i)
            traces = model.sample_many(inputs, samples)["trace"] * scale  # (s,b,n,h,3)
            preds[name].append(traces.numpy()[:, keep])
        h = batch["future"].shape[2]
        preds["static"].append(static(batch["history"], h).numpy()[keep][None])
        cv = constant_velocity(batch["history"], batch["history_valid"], h)
        preds["constant_velocity"].append(cv.numpy()[keep][None])
        gts.append((batch["future"] * scale).numpy()[keep])
        valids.append(batch["future_valid"].numpy()[keep])
    return ({k: np.concatenate(v, axis=1) for k, v in preds.items()}, np.concatenate(gts), np.concatenate(valids))


@torch.no_grad()
def evaluate_traces(model_dir: Path, traces_dir: Path, data_cfg: TraceDataConfig, split: str = "test",
                    samples: int = 5, horizons: tuple[int, ...] = (8, 16, 32), accepted: set[str] | None = None,
                    batch_size: int = 16, seed: int = 0) -> dict:
    model = Mu0WorldModel.from_pretrained(model_dir).eval()
    stats = DeltaStats.load(Path(model_dir) / STATS_FILE)
    cfg = dataclasses.replace(data_cfg, horizon=model.cfg.horizon, history=model.cfg.history)
    datasets, _, splits = build_datasets(traces_dir, cfg, accepted, stats)
    used = split if len(datasets[split]) else "val"
    if not len(datasets[used]):
        raise ValueError(f"{traces_dir}: the {split} and val splits are empty; nothing to evaluate")
    scale = torch.tensor(stats.scale, dtype=torch.float32)
    preds, gt, valid = _collect(model, datasets[used], scale, samples, seed, batch_size)
    usable = [h for h in horizons if h <= model.cfg.horizon]
    results = {name: {str(h): m for h, m in trace_metrics_at(p, gt, valid, usable).items()}
               for name, p in preds.items()}
    return {"split": used, "episodes": len(splits[used]), "queries": len(datasets[used]), "samples": samples,
            "units": "uv: [-1, 1] image units (1.0 = half the image); depth: metres", "methods": results}


def markdown_table(report: dict, keys=("ade_uv", "fde_uv", "minade_uv", "ade_depth", "dtw_uv", "frechet_uv")) -> str:
    lines = [f"# Trace prediction on the {report['split']} split ({report['episodes']} episodes, "
             f"{report['queries']} query frames, best of {report['samples']} for min*)", "",
             "| method | horizon | " + " | ".join(keys) + " |", "|---|---|" + "---|" * len(keys)]
    for method, per_h in report["methods"].items():
        for h, m in per_h.items():
            lines.append(f"| {method} | {h} | " + " | ".join(f"{m[k]:.4f}" for k in keys) + " |")
    return "\n".join(lines) + "\n"
