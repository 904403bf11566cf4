"""The extract stage: every episode under `in_dir` traced into `out_dir`, in parallel processes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from mu0.config import TraceExtractConfig
from mu0.episodes import list_episodes, recover_staging
from mu0.parallel import map_unordered
from mu0.trace_extract.pipeline import ExtractOutcome, extract_episode


def extract(in_dir: Path, out_dir: Path, quarantine_dir: Path, cfg: TraceExtractConfig,
            on_done: Callable[[Path, ExtractOutcome], None] | None = None) -> list[ExtractOutcome]:
    out_dir, quarantine_dir = Path(out_dir), Path(quarantine_dir)
    recover_staging(out_dir)
    work = functools.partial(extract_episode, out_dir=out_dir, quarantine_dir=quarantine_dir, cfg=cfg)
    outcomes = []
    for raw, outcome in map_unordered(work, list_episodes(in_dir), cfg.workers):
        outcomes.append(outcome)
        if on_done is not None:
            on_done(raw, outcome)
    return sorted(outcomes, key=lambda o: o.episode_id)
