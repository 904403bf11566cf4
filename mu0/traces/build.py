"""Train/val/test datasets from a trace dataset folder, with normalisation statistics from train."""

from __future__ import annotations

from pathlib import Path

from mu0.config import TraceDataConfig
from mu0.episodes import list_episodes
from mu0.episodes.trace_layout import (
    IS_MOVING,
    TRAJ,
    VALID_STEPS,
    is_trace_episode,
    open_trace_episode,
    read_trace_meta,
)
from mu0.traces.dataset import TraceDataset
from mu0.traces.normalize import DeltaStats, compute_delta_stats
from mu0.traces.split import limit_train, split_episodes


def trace_episode_paths(traces_dir: Path, accepted: set[str] | None = None) -> list[Path]:
    """Trace episodes under `traces_dir` (folders with samples/), restricted to `accepted` if given
    (the validation gate's accepted_episodes)."""
    root = Path(traces_dir)
    candidates = [p for p in sorted(root.iterdir()) if p.is_dir() and is_trace_episode(p)
                  and not p.name.startswith((".", "_"))] if root.is_dir() else []
    if not candidates:
        candidates = [p for p in list_episodes(root) if is_trace_episode(p)]
    return [p for p in candidates if accepted is None or p.name in accepted]


def trace_sources(paths: list[Path]) -> dict[str, int]:
    """How many of these trace episodes each tracker made ("groundtruth", "lk"; "unknown" for episodes
    from the official tool, whose meta does not say)."""
    counts: dict[str, int] = {}
    for path in paths:
        source = str(read_trace_meta(path).get("trace_source", "unknown"))
        counts[source] = counts.get(source, 0) + 1
    return dict(sorted(counts.items()))


def build_datasets(traces_dir: Path, cfg: TraceDataConfig, accepted: set[str] | None = None,
                   stats: DeltaStats | None = None, with_depth: bool = False):
    """({"train", "val", "test"} → TraceDataset, stats, split ids). Stats come from train unless given
    (a fine-tune or evaluation reuses the pretrained model's statistics)."""
    paths = {p.name: p for p in trace_episode_paths(traces_dir, accepted)}
    if not paths:
        raise ValueError(f"{traces_dir}: no trace episodes (folders with samples/) to train on")
    metas = {k: read_trace_meta(p) for k, p in paths.items()}
    splits = split_episodes(metas, cfg.train_fraction, cfg.val_fraction, cfg.seed, cfg.holdout_tasks)
    splits["train"] = limit_train(splits["train"], metas, cfg.max_train_episodes, cfg.seed)
    if stats is None:
        windows = []
        for eid in splits["train"] or list(paths):
            ep = open_trace_episode(paths[eid])
            windows.append((ep.sample(TRAJ), ep.sample(VALID_STEPS), ep.hw, ep.sample(IS_MOVING)))
        stats = compute_delta_stats(windows, cfg.horizon, cfg.delta_percentile, cfg.delta_rows, cfg.scale_history)
        if stats.samples == 0:
            raise ValueError(f"{traces_dir}: no valid future step in the {len(windows)} training episodes "
                             f"(every samples/valid_steps.npy is empty or all false); nothing to learn from")
    datasets = {name: TraceDataset([paths[e] for e in ids], cfg, stats, train=name == "train", with_depth=with_depth)
                for name, ids in splits.items()}
    return datasets, stats, splits
