"""Which traces an evaluation scores against: the simulator's wherever it can.

Trace episodes made by the `groundtruth` tracker are simulator truth already. Episodes made by a
tracker (TraceExtract's LK) whose raw episodes carry gt/ get simulator-exact twins: the evaluated
split's episodes are traced again with the groundtruth tracker and the same retargeting, into
`truth_dir` (skipped when up to date, like any extraction). Without ground truth the extracted traces
themselves are the truth, and the report says so.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from mu0.config import TraceDataConfig, TraceExtractConfig, from_dict
from mu0.episodes import list_episodes
from mu0.episodes.trace_layout import extract_record, read_trace_meta
from mu0.trace_extract.groundtruth_source import SOURCE_NAME
from mu0.trace_extract.pipeline import extract_episode
from mu0.traces.build import trace_episode_paths
from mu0.traces.split import split_episodes

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Truth:
    kind: str  # "simulator" | "extracted"
    traces_dir: Path
    accepted: set[str] | None


def _evaluated(paths: list[Path], split: str, cfg: TraceDataConfig) -> list[Path]:
    """The episodes of `split` (and of val, the fallback when it is empty)."""
    metas = {p.name: read_trace_meta(p) for p in paths}
    splits = split_episodes(metas, cfg.train_fraction, cfg.val_fraction, cfg.seed, cfg.holdout_tasks)
    names = set(splits[split]) | (set(splits["val"]) if not splits[split] else set())
    return [p for p in paths if p.name in names]


def simulator_truth(traces_dir: Path, raw_dir: Path | None, truth_dir: Path | None, split: str,
                    cfg: TraceDataConfig, accepted: set[str] | None) -> Truth:
    paths = trace_episode_paths(traces_dir, accepted)
    if paths and all(read_trace_meta(p).get("trace_source") == SOURCE_NAME for p in paths):
        return Truth("simulator", traces_dir, accepted)
    raws = {p.name: p for p in list_episodes(raw_dir)} if raw_dir is not None and Path(raw_dir).is_dir() else {}
    wanted = _evaluated(paths, split, cfg)
    if not wanted or not all(p.name in raws and (raws[p.name] / "gt").is_dir() for p in wanted):
        return Truth("extracted", traces_dir, accepted)
    truth_dir = Path(truth_dir) if truth_dir else traces_dir.with_name(traces_dir.name + "-truth")
    made = set()
    for path in wanted:
        config = extract_record(read_trace_meta(path)).get("config", {})
        extract_cfg = dataclasses.replace(from_dict(TraceExtractConfig, config) if config else TraceExtractConfig(),
                                          tracker=SOURCE_NAME, workers=1)
        outcome = extract_episode(raws[path.name], truth_dir, truth_dir.with_name(truth_dir.name + "-quarantine"),
                                  extract_cfg)
        if outcome.status != "quarantined":
            made.add(outcome.episode_id)
        else:
            log.warning("no simulator truth for %s: %s", path.name, outcome.detail)
    log.info("simulator truth for %d of %d evaluated episodes in %s", len(made), len(wanted), truth_dir)
    return Truth("simulator", truth_dir, made)
