"""Run a source's jobs (in a process pool when asked), write their episodes atomically, quarantine
what fails, and report. Re-running is idempotent: identical episodes are left untouched."""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from mu0.episodes import EpisodeFormatError, recover_staging, write_episode
from mu0.episodes.quarantine import clear_quarantine, quarantine
from mu0.parallel import map_unordered
from mu0.sources.base import IngestJob, SourceError

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Outcome:
    episode_id: str
    status: str  # written | replaced | unchanged | quarantined
    detail: str  # path of the episode, or the reason it was quarantined


@dataclasses.dataclass
class IngestReport:
    out_dir: Path
    outcomes: list[Outcome] = dataclasses.field(default_factory=list)

    def ids(self, *statuses: str) -> list[str]:
        return [o.episode_id for o in self.outcomes if o.status in statuses]

    @property
    def quarantined(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "quarantined"]

    @property
    def changed(self) -> bool:
        return bool(self.ids("written", "replaced"))

    def summary(self) -> str:
        counts = {s: len(self.ids(s)) for s in ("written", "replaced", "unchanged", "quarantined")}
        return ", ".join(f"{n} {s}" for s, n in counts.items())


def run_job(job: IngestJob, out_dir: Path, quarantine_dir: Path) -> list[Outcome]:
    """Build and write one job's episodes; every failure becomes a quarantine note, never a crash."""
    try:
        episodes = job.build()
    except Exception as exc:  # any failure of one input (a decoder, the simulator) must not stop the others
        reason = f"{type(exc).__name__}: {exc}"
        log.warning("quarantined %s (%s): %s", job.episode_ids, job.label, reason,
                    exc_info=not isinstance(exc, (SourceError, EpisodeFormatError)))
        return [Outcome(eid, "quarantined", str(quarantine(quarantine_dir, eid, job.label, reason)))
                for eid in job.episode_ids]
    outcomes = []
    for episode in episodes:
        try:
            result = write_episode(episode, out_dir)
        except EpisodeFormatError as exc:
            reason = f"{type(exc).__name__}: {exc}"
            log.warning("quarantined %s (%s): %s", episode.episode_id, job.label, reason)
            note = quarantine(quarantine_dir, episode.episode_id, job.label, reason)
            outcomes.append(Outcome(episode.episode_id, "quarantined", str(note)))
            continue
        clear_quarantine(quarantine_dir, episode.episode_id)
        outcomes.append(Outcome(episode.episode_id, result.status, str(result.path)))
    return outcomes


def ingest(
    jobs: Sequence[IngestJob],
    out_dir: Path,
    quarantine_dir: Path,
    workers: int = 1,
    on_job_done: Callable[[IngestJob, list[Outcome]], None] | None = None,
) -> IngestReport:
    """Run every job; `workers` > 1 uses spawned processes (each gets its own GL context)."""
    out_dir, quarantine_dir = Path(out_dir), Path(quarantine_dir)
    recover_staging(out_dir)
    report = IngestReport(out_dir)

    def done(job: IngestJob, outcomes: list[Outcome]) -> None:
        report.outcomes.extend(outcomes)
        if on_job_done is not None:
            on_job_done(job, outcomes)

    for job, outcomes in map_unordered(functools.partial(run_job, out_dir=out_dir, quarantine_dir=quarantine_dir),
                                       jobs, workers):
        done(job, outcomes)
    report.outcomes.sort(key=lambda o: o.episode_id)
    return report
