"""Ingesting episodes into data/raw — Meta-World rollouts, video files, or what is new under an S3 prefix — and
versioning the folder with DVC (commit + push) when it lies inside a DVC repository."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import tyro

from mu0.config import IngestOutput, MetaWorldSourceConfig, S3SourceConfig, VideoSourceConfig

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class MetaWorldArgs:
    # Which rollouts to record and how.
    source: MetaWorldSourceConfig
    # Where episodes go.
    output: IngestOutput


@dataclasses.dataclass(frozen=True)
class VideoArgs:
    # Video files (mp4, webm, ...), image folders, or folders of videos.
    paths: Annotated[tuple[Path, ...], tyro.conf.Positional]
    # How videos are decoded.
    source: VideoSourceConfig
    # Where episodes go.
    output: IngestOutput


@dataclasses.dataclass(frozen=True)
class S3Args:
    # s3://bucket/prefix to list; videos under it (with .json / .depth.npy sidecars beside them) are ingested.
    uri: Annotated[str, tyro.conf.Positional]
    # How objects are downloaded and decoded.
    source: S3SourceConfig
    # Where episodes go.
    output: IngestOutput
    # Folder that keeps verified downloads, so an interrupted run does not download them again.
    cache: Path = Path("data/.cache/s3")


IngestArgs = MetaWorldArgs | VideoArgs | S3Args


def ingest_args(preset, source: str) -> IngestArgs:
    """The arguments for a source named as a flow parameter: "metaworld", "s3://bucket/prefix", or
    "video PATH [PATH...]"."""
    if source == "metaworld":
        return MetaWorldArgs(preset.metaworld, preset.output)
    if source.startswith("s3://"):
        return S3Args(source, preset.s3, preset.output)
    kind, *paths = source.split()
    if kind == "video" and paths:
        return VideoArgs(tuple(Path(p) for p in paths), preset.video, preset.output)
    raise ValueError(f"unknown source {source!r}: expected metaworld, s3://bucket/prefix or 'video PATH...'")


@dataclasses.dataclass(frozen=True)
class IngestResult:
    report: object  # sources.ingest.IngestReport: every episode's outcome
    version: object | None  # mlops.dvc.DataVersion when the folder was versioned

    @property
    def usable(self) -> bool:
        """Something is in the folder now, or there was nothing to ingest."""
        return bool(self.report.ids("written", "replaced", "unchanged")) or not self.report.outcomes


def ingest_stage(args: IngestArgs, on_done: Callable | None = None) -> IngestResult:
    """`on_done(job, outcomes)` after every rollout or video."""
    from mu0.settings import load_settings
    from mu0.sources import stages

    out, quarantine = args.output.out, args.output.quarantine
    if isinstance(args, MetaWorldArgs):
        report = stages.ingest_metaworld(args.source, out, quarantine, on_done)
    elif isinstance(args, VideoArgs):
        if not args.paths:
            raise ValueError("give at least one video file or folder")
        report = stages.ingest_videos(list(args.paths), args.source, out, quarantine, on_done)
    else:
        settings = load_settings()
        report = stages.ingest_s3(args.uri, args.source, out, quarantine, args.cache, settings.s3_endpoint_url,
                                  settings.s3_region, on_done)
    return IngestResult(report, _version(args.output))


def _version(output: IngestOutput):
    """DVC commit + push of the output folder; None when versioning is off or the folder is outside DVC."""
    if not output.version:
        return None
    from mu0.mlops.dvc import find_dvc_root, version_data
    from mu0.settings import load_settings

    if find_dvc_root(output.out) is None:
        log.warning("not versioned: %s is not inside a DVC repository", output.out)
        return None
    return version_data(output.out, load_settings())
