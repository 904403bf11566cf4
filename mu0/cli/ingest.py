"""`mu0 ingest metaworld | video PATH... | s3://bucket/prefix`: episodes into data/raw, then DVC."""

from __future__ import annotations

import json
from pathlib import Path

from mu0.cli.common import PRESET_HELP, console, job_progress, parse, pop_preset
from mu0.config import IngestOutput
from mu0.presets import UnknownPresetError, get_preset
from mu0.stages.ingest import MetaWorldArgs, S3Args, VideoArgs

USAGE = "usage: mu0 ingest {metaworld,video PATH...,s3://bucket/prefix} [--preset NAME] [OPTIONS]"
DESCRIPTIONS = {
    MetaWorldArgs: ("mu0 ingest metaworld", "Roll out Meta-World v3 scripted experts, render RGB-D from each camera, "
                    "write one episode per (rollout, camera) with actions, proprio, success and simulator ground "
                    "truth."),
    VideoArgs: ("mu0 ingest video", "Decode video files or image folders (with optional depth and camera sidecars) "
                "into episodes."),
    S3Args: ("mu0 ingest s3", "Download videos and sidecars under an s3:// prefix (endpoint from MU0_S3_ENDPOINT_URL, "
             "credentials from AWS_* variables) and ingest what is new."),
}


def _print_report(report, output: IngestOutput) -> None:
    from rich.table import Table

    console.print(f"[bold]ingest:[/bold] {report.summary()} → {output.out}")
    if report.quarantined:
        table = Table("quarantined episode", "reason", title=f"quarantine notes in {output.quarantine}")
        for o in report.quarantined:
            table.add_row(o.episode_id, json.loads(Path(o.detail).read_text())["reason"])
        console.print(table)


def _jobs(parsed) -> int:
    if isinstance(parsed, MetaWorldArgs):
        from mu0.sources.metaworld import resolve_tasks

        return len(resolve_tasks(parsed.source.tasks)) * parsed.source.episodes_per_task
    return len(parsed.paths) if isinstance(parsed, VideoArgs) else 0


def run(args: list[str]) -> int:
    from mu0.mlops.dvc import DvcError
    from mu0.sources.s3 import S3Unreachable
    from mu0.stages.ingest import ingest_stage

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
    defaults = {"metaworld": MetaWorldArgs(preset.metaworld, preset.output),
                "video": VideoArgs((), preset.video, preset.output), "s3": S3Args("", preset.s3, preset.output)}
    if kind not in defaults:
        console.print(f"[red]error:[/red] unknown source '{kind}'. {USAGE}")
        return 2
    prog, description = DESCRIPTIONS[type(defaults[kind])]
    parsed = parse(type(defaults[kind]), defaults[kind], rest, prog, f"{description} {PRESET_HELP}")
    try:
        jobs = _jobs(parsed)
        with job_progress(jobs or None, {"metaworld": "rollouts", "video": "videos", "s3": "objects"}[kind]) as advance:
            result = ingest_stage(parsed, advance)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    except S3Unreachable as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 1
    except DvcError as exc:
        console.print(f"[red]DVC versioning failed:[/red] {exc}")
        return 1
    _print_report(result.report, parsed.output)
    if result.version is not None:
        v = result.version
        console.print(f"[bold]dvc:[/bold] {v.dvc_file.name} → md5 {v.md5} ({v.nfiles} files, "
                      f"{v.size_bytes / 1e6:.1f} MB), pushed to remote '{v.remote}'")
    console.print(f"look at it: [cyan]mu0 inspect {parsed.output.out}[/cyan]  ·  one episode: "
                  f"[cyan]mu0 inspect {parsed.output.out} --episode ID --save sheet.png[/cyan]")
    return 0 if result.usable else 1
