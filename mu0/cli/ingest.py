"""`mu0 ingest metaworld | video PATH... | s3://bucket/prefix`: episodes into data/raw, then DVC."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import tyro

from mu0.cli.common import PRESET_HELP, console, job_progress, parse, pop_preset
from mu0.config import IngestOutput, MetaWorldSourceConfig, S3SourceConfig, VideoSourceConfig
from mu0.presets import UnknownPresetError, get_preset

USAGE = "usage: mu0 ingest {metaworld,video PATH...,s3://bucket/prefix} [--preset NAME] [OPTIONS]"


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


def _print_report(report, output: IngestOutput) -> None:
    from rich.table import Table

    console.print(f"[bold]ingest:[/bold] {report.summary()} → {output.out}")
    if report.quarantined:
        table = Table("quarantined episode", "reason", title=f"quarantine notes in {output.quarantine}")
        for o in report.quarantined:
            table.add_row(o.episode_id, json.loads(Path(o.detail).read_text())["reason"])
        console.print(table)


def _version(output: IngestOutput) -> None:
    if not output.version:
        return
    from mu0.mlops.dvc import DvcError, find_dvc_root, version_data
    from mu0.settings import load_settings

    if find_dvc_root(output.out) is None:
        console.print(f"[yellow]not versioned:[/yellow] {output.out} is not inside a DVC repository")
        return
    try:
        version = version_data(output.out, load_settings())
    except DvcError as exc:
        console.print(f"[red]DVC versioning failed:[/red] {exc}")
        raise SystemExit(1) from None
    console.print(f"[bold]dvc:[/bold] {version.dvc_file.name} → md5 {version.md5} ({version.nfiles} files, "
                  f"{version.size_bytes / 1e6:.1f} MB), pushed to remote '{version.remote}'")


def _finish(report, output: IngestOutput) -> int:
    _print_report(report, output)
    _version(output)
    console.print(f"look at it: [cyan]mu0 inspect {output.out}[/cyan]  ·  one episode: "
                  f"[cyan]mu0 inspect {output.out} --episode ID --save sheet.png[/cyan]")
    ok = report.ids("written", "replaced", "unchanged")
    return 0 if ok or not report.outcomes else 1


def _ingest_metaworld(preset, args: list[str]) -> int:
    from mu0.sources.metaworld import resolve_tasks
    from mu0.sources.stages import ingest_metaworld

    parsed = parse(MetaWorldArgs, MetaWorldArgs(preset.metaworld, preset.output), args, "mu0 ingest metaworld",
                   "Roll out Meta-World v3 scripted experts, render RGB-D from each camera, write one episode "
                   f"per (rollout, camera) with actions, proprio, success and simulator ground truth. {PRESET_HELP}")
    try:
        n_jobs = len(resolve_tasks(parsed.source.tasks)) * parsed.source.episodes_per_task
        with job_progress(n_jobs, "rollouts") as advance:
            report = ingest_metaworld(parsed.source, parsed.output.out, parsed.output.quarantine, advance)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    return _finish(report, parsed.output)


def _ingest_video(preset, args: list[str]) -> int:
    from mu0.sources.stages import ingest_videos

    parsed = parse(VideoArgs, VideoArgs((), preset.video, preset.output), args, "mu0 ingest video",
                   "Decode video files or image folders (with optional depth and camera sidecars) into episodes. "
                   + PRESET_HELP)
    if not parsed.paths:
        console.print("[red]error:[/red] give at least one video file or folder")
        return 2
    with job_progress(len(parsed.paths), "videos") as advance:
        report = ingest_videos(list(parsed.paths), parsed.source, parsed.output.out, parsed.output.quarantine,
                               advance)
    return _finish(report, parsed.output)


def _ingest_s3(preset, args: list[str]) -> int:
    from mu0.settings import load_settings
    from mu0.sources.stages import ingest_s3

    parsed = parse(S3Args, S3Args("", preset.s3, preset.output), args, "mu0 ingest s3",
                   "Download videos and sidecars under an s3:// prefix (endpoint from MU0_S3_ENDPOINT_URL, "
                   "credentials from AWS_* variables) and ingest what is new. " + PRESET_HELP)
    settings = load_settings()
    try:
        report = ingest_s3(parsed.uri, parsed.source, parsed.output.out, parsed.output.quarantine, parsed.cache,
                           settings.s3_endpoint_url, settings.s3_region)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    return _finish(report, parsed.output)


def run(args: list[str]) -> int:
    preset_name, args = pop_preset(args)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        print("\n  metaworld          scripted-expert rollouts rendered offscreen (mu0 ingest metaworld --help)")
        print("  video PATH...      video files / image folders with sidecars (mu0 ingest video --help)")
        print("  s3://bucket/pfx    videos in S3, only new ones (mu0 ingest s3 --help)")
        return 0
    try:
        preset = get_preset(preset_name)
    except UnknownPresetError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    kind, rest = args[0], args[1:]
    if kind.startswith("s3://"):
        kind, rest = "s3", args
    handlers = {"metaworld": _ingest_metaworld, "video": _ingest_video, "s3": _ingest_s3}
    if kind not in handlers:
        console.print(f"[red]error:[/red] unknown source '{kind}'. {USAGE}")
        return 2
    return handlers[kind](preset, rest)
