"""Trace prediction on held-out episodes: μ_0, the learned baselines and the kinematic ones, on the
same queries, under three protocols (recipe, dense, all; see trace_protocols), at several horizons,
in several spaces: uv ([-1, 1] image units), px, depth and xyz (camera-frame metres).

Truth is the simulator's wherever it exists: when the evaluation traces were not made by the
`groundtruth` tracker and their raw episodes (under `raw_dir`) carry gt/, simulator-exact traces of
those episodes are built (same retargeting, `truth_dir`) and scored instead, whichever traces the
models were trained on. The report says which truth it used. A model trained with another trace
protocol than the evaluation data's is refused. Intervals: cluster bootstrap over episodes; tasks
held out of training are scored separately.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from mu0.bundle.trace_bundle import load_trace_bundle, read_stats
from mu0.config import TraceDataConfig
from mu0.evaluation.retrieval import RetrievalBaseline, bank_size_note
from mu0.evaluation.trace_overlays import write_trace_overlays
from mu0.evaluation.trace_protocols import HEADLINE, PROTOCOLS, collect, positions, score
from mu0.evaluation.trace_truth import simulator_truth
from mu0.evaluation.trained_split import refuse_trained_on, with_trained_split
from mu0.models.depth_image import reads_depth_image
from mu0.traces.build import build_datasets
from mu0.traces.dataset import TraceDataset
from mu0.traces.normalize import DeltaStats
from mu0.traces.protocol import check_protocol, protocol_of

RETRIEVAL_ROWS = 64  # keypoints kept per training frame in the retrieval baseline's bank
__all__ = ["evaluate_traces", "markdown_table", "positions"]


class NoMovingPointsError(ValueError):
    """The split has no moving keypoint: a motion forecast cannot be scored on it."""


def _load_models(model_dirs: dict[str, Path]) -> dict:
    """name → (model, per-axis delta scale, history unit): what scoring needs of each bundle."""
    bundles = {name: load_trace_bundle(folder) for name, folder in model_dirs.items()}
    return {name: (b.model, b.scale, b.history_unit) for name, b in bundles.items()}


def _view(dataset: TraceDataset, protocol, cfg: TraceDataConfig) -> TraceDataset:
    view_cfg = dataclasses.replace(cfg, num_points=protocol.num_points or cfg.num_points)
    return TraceDataset(dataset.paths, view_cfg, dataset.stats, train=False, with_depth=dataset.with_depth,
                        moving_only=protocol.moving_only, frames=protocol.frames)


def _subset(dataset, max_queries: int):
    if 0 < max_queries < len(dataset):
        picks = np.linspace(0, len(dataset) - 1, max_queries).round().astype(int).tolist()
        return torch.utils.data.Subset(dataset, picks)
    return dataset


def _protocol_report(models, dataset, protocol, cfg, samples, seed, batch_size, ref_scale, max_queries, horizons):
    view = _view(dataset, protocol, cfg)
    if not len(view):
        return {"queries": 0, "methods": {}}
    scored = _subset(view, max_queries)
    c = collect(models, scored, protocol, samples if protocol.name != "all" else min(samples, 1), seed,
                batch_size, ref_scale)
    metas = [_meta(p) for p in view.paths]
    held = np.array([metas[e].get("task", "") in cfg.holdout_tasks for e in c.episode], bool)
    out = {"queries": len(scored), "frames": list(protocol.frames) if protocol.frames else "all",
           "points": "moving" if protocol.moving_only else "moving first, then still",
           "history": protocol.history, "methods": score(c, np.flatnonzero(~held), horizons)}
    for section, key in (("by_camera", "camera"), ("by_task", "task")):  # seen tasks, one group at a time
        labels = np.array([str(m.get(key) or "unknown") for m in metas])[c.episode]
        out[section] = {}
        for label in sorted(set(labels[~held])):
            rows = ~held & (labels == label)
            out[section][label] = {"episodes": len(set(c.episode[rows].tolist())),
                                   "methods": score(c, np.flatnonzero(rows), horizons)}
    if held.any():
        out["heldout_tasks"] = {"tasks": sorted(set(cfg.holdout_tasks)),
                                "episodes": len({int(g) for g in c.episode[held]}),
                                "methods": score(c, np.flatnonzero(held), horizons)}
    return out


@torch.no_grad()
def evaluate_traces(model_dirs: dict[str, Path] | Path, traces_dir: Path, data_cfg: TraceDataConfig,
                    split: str = "test", samples: int = 5, horizons: tuple[int, ...] = (8, 16, 32),
                    accepted: set[str] | None = None, batch_size: int = 16, seed: int = 0,
                    overlay_dir: Path | None = None, max_queries: int = 0, raw_dir: Path | None = None,
                    truth_dir: Path | None = None, protocols: tuple[str, ...] = tuple(PROTOCOLS)) -> dict:
    """`model_dirs` maps a method name to a model folder (any kind); the first sets horizon, history and
    the normalisation the data is built with. `max_queries` > 0 scores that many query frames per
    protocol, spread evenly."""
    unknown = sorted(set(protocols) - set(PROTOCOLS))
    if unknown:
        raise ValueError(f"unknown evaluation protocols {unknown}; valid: {', '.join(PROTOCOLS)}")
    if not isinstance(model_dirs, dict):
        model_dirs = {"mu0": Path(model_dirs)}
    models = _load_models(model_dirs)
    first = next(iter(models.values()))[0].cfg
    for name, (model, _, _) in models.items():
        if (model.cfg.horizon, model.cfg.history) != (first.horizon, first.history):
            raise ValueError(f"{model_dirs[name]}: horizon/history {model.cfg.horizon}/{model.cfg.history} differ "
                             f"from {first.horizon}/{first.history} of the first model; they must match")
    data_cfg = dataclasses.replace(data_cfg, horizon=first.horizon, history=first.history,
                                   min_valid_steps=min(data_cfg.min_valid_steps, first.horizon))
    data_cfg, split_note = with_trained_split(model_dirs, data_cfg)
    truth = simulator_truth(Path(traces_dir), raw_dir, truth_dir, split, data_cfg, accepted)
    ref_stats = read_stats(next(iter(model_dirs.values())))
    reads_depth = any(reads_depth_image(model.cfg) for model, _, _ in models.values())
    datasets, _, splits = build_datasets(truth.traces_dir, data_cfg, truth.accepted, ref_stats, with_depth=reads_depth)
    used = split if len(datasets[split]) else "val"
    dataset = datasets[used]
    if not len(dataset):
        raise ValueError(f"{truth.traces_dir}: the {split} and val splits are empty; nothing to evaluate")
    refuse_trained_on(model_dirs, splits[used])
    data_protocol = protocol_of(dataset.paths, data_cfg)
    for folder in model_dirs.values():
        check_protocol(Path(folder), data_protocol)
    if not len(TraceDataset(dataset.paths, data_cfg, ref_stats, train=False, moving_only=True)):
        raise NoMovingPointsError(f"{truth.traces_dir}: no keypoint of the {used} split ({len(dataset.paths)} "
                                  "episodes) is labelled moving; there is no motion to forecast or score")
    usable = [h for h in horizons if h <= data_cfg.horizon]
    ref_scale = models[next(iter(models))][1]
    methods = dict(models)
    retrieval = _retrieval(Path(traces_dir), data_cfg, accepted, ref_stats)
    if retrieval is not None:
        methods["retrieval"] = (retrieval, ref_scale, torch.tensor(ref_stats.history_unit()))
    report = {"split": used, "episodes": len(splits[used]), "holdout_tasks": list(data_cfg.holdout_tasks),
              "split_note": split_note, "samples": samples, "truth": truth.kind,
              "truth_traces": str(truth.traces_dir), "headline_protocol": HEADLINE,
              "depth_image": "shown to the models that read it" if reads_depth else "not read",
              "units": "uv: [-1, 1] image units (1.0 = half the image); px: pixels; depth, xyz: metres "
                       "(camera frame)", "interval": "95% cluster bootstrap over episodes",
              "point_estimates": {"mu0": "Euler from the noise mean (x = 0)", "tokenized-vlm": "greedy decode",
                                  "track-transformer": "its regression", "mu0_sample": "one random flow sample",
                                  "mu0_mean": "the mean of the flow samples",
                                  "retrieval": "the mean future of the nearest keypoints in the nearest training "
                                               "frames (image L2)"},
              "retrieval_bank": bank_size_note(retrieval) if retrieval is not None else "no training frames",
              "models": {k: str(v) for k, v in model_dirs.items()}, "protocol": dataclasses.asdict(data_protocol),
              "protocols": {}}
    for name in protocols:
        report["protocols"][name] = _protocol_report(methods, dataset, PROTOCOLS[name], data_cfg, samples, seed,
                                                     batch_size, ref_scale, max_queries, usable)
    head = report["protocols"].get(HEADLINE) or next(iter(report["protocols"].values()))
    report["queries"], report["methods"] = head["queries"], head["methods"]
    if "heldout_tasks" in head:
        report["heldout_tasks"] = head["heldout_tasks"]
    if overlay_dir is not None:
        moving = _view(dataset, PROTOCOLS["recipe"], data_cfg)
        report["overlays"] = [str(p) for p in write_trace_overlays(models, moving if len(moving) else dataset,
                                                                   overlay_dir, seed=seed)]
    return report


def _retrieval(traces_dir: Path, cfg: TraceDataConfig, accepted, stats: DeltaStats) -> RetrievalBaseline | None:
    """The retrieval baseline over the training split of the traces the models were trained on (None when
    that split is empty)."""
    bank_cfg = dataclasses.replace(cfg, num_points=RETRIEVAL_ROWS)
    paths = build_datasets(traces_dir, bank_cfg, accepted, stats)[0]["train"].paths
    bank = TraceDataset(paths, bank_cfg, stats, train=False)  # seeded draws: the same bank every run
    return RetrievalBaseline.from_dataset(bank) if len(bank) else None


def _meta(path: Path) -> dict:
    """An episode's meta.json ({} when there is none)."""
    meta = path / "meta.json"
    return json.loads(meta.read_text()) if meta.exists() else {}


def _cell(m: dict, key: str) -> str:
    if key not in m:
        return "–"
    ci = m.get(f"{key}_ci95")
    return f"{m[key]:.4f}" + (f" [{ci[0]:.4f}, {ci[1]:.4f}]" if ci else "")


def markdown_table(report: dict, keys=("ade_uv", "fde_uv", "minade_uv", "ade_px", "ade_depth", "ade_xyz",
                                       "dtw_uv", "frechet_uv")) -> str:
    lines = [f"# Trace prediction on the {report['split']} split ({report['episodes']} episodes; truth: "
             f"{report['truth']})", "",
             f"Units: {report['units']}. Brackets: {report['interval']}. Each method's ADE/FDE is its best single "
             f"prediction (μ_0: {report['point_estimates']['mu0']}); min* is the best of {report['samples']} "
             "samples; `mu0_sample` is one random μ_0 sample, `mu0_mean` the mean of its samples."
             + (f" Split: {report['split_note']}." if report.get("split_note") else ""), ""]
    for pname, proto in report["protocols"].items():
        sections = [("tasks seen in training", proto["methods"])]
        if "heldout_tasks" in proto:
            sections.append((f"held-out tasks ({', '.join(proto['heldout_tasks']['tasks'])})",
                             proto["heldout_tasks"]["methods"]))
        if len(proto.get("by_camera", {})) > 1:
            sections += [(f"seen tasks, camera {camera}, {part['episodes']} episodes", part["methods"])
                         for camera, part in proto["by_camera"].items()]
        for title, methods in sections:
            lines += [f"## {pname}: {title} ({proto['queries']} query frames, frames {proto.get('frames')}, "
                      f"points: {proto.get('points')}, history: {proto.get('history')})", "",
                      "| method | horizon | n | " + " | ".join(keys) + " |", "|---|---|---|" + "---|" * len(keys)]
            for method, per_h in methods.items():
                for h, m in per_h.items():
                    lines.append(f"| {method} | {h} | {m['trajectories']} | "
                                 + " | ".join(_cell(m, k) for k in keys) + " |")
            lines.append("")
        lines += _task_table(pname, proto)
    return "\n".join(lines)


def _task_table(pname: str, proto: dict, key: str = "ade_uv") -> list[str]:
    """One line per seen task: every method's `key` at the longest horizon (the full figures are in the JSON)."""
    tasks = proto.get("by_task", {})
    if len(tasks) < 2:
        return []
    methods = list(proto["methods"])
    h = max(next(iter(proto["methods"].values())), key=int)
    lines = [f"## {pname}: seen tasks one by one, {key} at horizon {h}", "",
             "| task | episodes | " + " | ".join(methods) + " |", "|---|---|" + "---|" * len(methods)]
    for task, part in tasks.items():
        cells = [f"{part['methods'][m][h][key]:.4f}" if key in part["methods"].get(m, {}).get(h, {}) else "–"
                 for m in methods]
        lines.append(f"| {task} | {part['episodes']} | " + " | ".join(cells) + " |")
    return [*lines, ""]
