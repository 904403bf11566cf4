"""The ingest stage, one function per source kind: config in, episodes under `out` and a report back.
The CLI and the Prefect flows both call these; neither holds ingest logic of its own."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mu0.config import MetaWorldSourceConfig, S3SourceConfig, VideoSourceConfig
from mu0.sources.ingest import IngestReport, Outcome, ingest

OnJobDone = Callable[[object, list[Outcome]], None] | None


def ingest_metaworld(cfg: MetaWorldSourceConfig, out: Path, quarantine: Path,
                     on_job_done: OnJobDone = None) -> IngestReport:
    from mu0.sources.metaworld import rollout_jobs

    return ingest(rollout_jobs(cfg), out, quarantine, workers=cfg.workers, on_job_done=on_job_done)


def ingest_videos(paths: list[Path], cfg: VideoSourceConfig, out: Path, quarantine: Path,
                  on_job_done: OnJobDone = None) -> IngestReport:
    from mu0.sources.video import VideoFile, find_videos

    jobs = [VideoFile(Path(p), cfg) for p in find_videos([Path(p) for p in paths])]
    return ingest(jobs, out, quarantine, on_job_done=on_job_done)


def ingest_s3(uri: str, cfg: S3SourceConfig, out: Path, quarantine: Path, cache_dir: Path,
              endpoint_url: str = "", region: str = "us-east-1", on_job_done: OnJobDone = None) -> IngestReport:
    """Only objects not ingested before are downloaded; the others are reported as unchanged."""
    from mu0.sources.s3 import plan_s3_ingest

    jobs, skipped = plan_s3_ingest(uri, out, cache_dir, cfg, endpoint_url, region)
    report = ingest(jobs, out, quarantine, on_job_done=on_job_done)
    report.outcomes.extend(Outcome(uri_, "unchanged", "already ingested (same URI and ETag)") for uri_ in skipped)
    return report
