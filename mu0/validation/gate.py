"""The validation gate: run every suite, quarantine episodes with non-critical failures, fail the run
on critical ones, and remember an accepted dataset's statistics for the next drift check."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

from mu0.config import ValidationConfig
from mu0.episodes.quarantine import quarantine
from mu0.validation import drift
from mu0.validation.gx_runner import GxRunner
from mu0.validation.suites import raw_checks, trace_checks
from mu0.validation.tables import raw_table
from mu0.validation.trace_tables import trace_tables


def _add_traces(runner: GxRunner, traces_dir: Path, cfg: ValidationConfig) -> set[str]:
    rows, frames, episodes = trace_tables(traces_dir)
    tables = {"trace_episodes": episodes, "trace_rows": rows, "trace_frames": frames}
    for table, checks in trace_checks(cfg).items():
        df = tables[table]
        if df.empty:
            checks = [c for c in checks if c.critical]  # only "is there any data" applies to an empty table
        if checks:
            runner.add(table, df, checks)
    return set(episodes["episode_id"]) if not episodes.empty else set()


def _add_drift(runner: GxRunner, traces_dir: Path, cfg: ValidationConfig):
    stats = drift.sample_statistics(traces_dir, cfg.drift_sample)
    accepted = drift.load_accepted(traces_dir)
    if accepted is None:
        note = "no accepted dataset yet: this one becomes the baseline if it passes"
        return stats, {"baseline": None, "note": note}
    tables = drift.drift_tables(stats)
    for table, checks in drift.drift_checks(accepted, cfg.drift_tolerance).items():
        if table in tables:
            runner.add(table, tables[table], checks)
    return stats, {"baseline": accepted["quantiles"], "current": drift.quantiles(stats)}


def _dataset_id(episodes: set[str]) -> str:
    return hashlib.sha256("\n".join(sorted(episodes)).encode()).hexdigest()[:16]


def validate(raw_dir: Path | None, traces_dir: Path | None, cfg: ValidationConfig, quarantine_dir: Path,
             accept: bool = True, docs: Path | None = None) -> dict:
    """Validate raw episodes and/or a trace dataset; returns the report (see report.py). The Data Docs of the
    run go to `docs` (see gx_project.py; nowhere when None)."""
    runner = GxRunner(docs)
    everyone: set[str] = set()
    if raw_dir is not None:
        df = raw_table(raw_dir)
        runner.add("raw", df, raw_checks(cfg))
        everyone |= set(df["episode_id"]) if not df.empty else set()
    stats, drift_info = None, None
    if traces_dir is not None:
        everyone |= _add_traces(runner, traces_dir, cfg)
        stats, drift_info = _add_drift(runner, traces_dir, cfg)
    results = runner.run()
    reasons: dict[str, list[str]] = {}
    for r in results:
        if not r.success and not r.critical:
            for eid in r.episodes:
                reasons.setdefault(eid, []).append(f"{r.name}: {r.description}")
    critical = [f"{r.name}: {r.description}" for r in results if not r.success and r.critical]
    if everyone and len(reasons) / len(everyone) > cfg.max_bad_fraction:
        critical.append(f"systemic: {len(reasons)} of {len(everyone)} episodes fail checks "
                        f"(more than max_bad_fraction {cfg.max_bad_fraction:.0%}); nothing is quarantined")
    success = not critical
    if success:
        for eid, why in sorted(reasons.items()):
            quarantine(quarantine_dir, eid, "validation", "; ".join(why), checks=why)
    accepted_path = None
    if success and accept and traces_dir is not None and stats is not None:
        accepted_path = str(drift.save_accepted(traces_dir, stats, {"episodes": len(everyone - set(reasons)),
                                                                     "id": _dataset_id(everyone - set(reasons))}))
    return {
        "success": success,
        "critical_failures": critical,
        "episodes": len(everyone),
        "quarantined": {eid: why for eid, why in sorted(reasons.items())} if success else {},
        "failing_episodes": {eid: why for eid, why in sorted(reasons.items())},
        "accepted_episodes": sorted(everyone - set(reasons)) if success else [],
        "drift": drift_info,
        "accepted_stats": accepted_path,
        "checks": [dataclasses.asdict(r) for r in results],
    }
