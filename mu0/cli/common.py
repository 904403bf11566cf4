"""Shared CLI plumbing: logging to the terminal, presets from --preset, tyro parsing, progress."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console

console = Console(stderr=True)  # logs, progress, summaries
# What a command was asked to show (tables, JSON) goes to stdout; wide when piped, so ids are not cut.
results = Console(width=None if sys.stdout.isatty() else 160)
PRESET_HELP = "Options start from a preset, chosen with --preset {debug,tiny,small} (default: tiny)."


def setup_logging() -> None:
    from rich.logging import RichHandler

    logging.basicConfig(level=logging.WARNING, format="%(message)s", handlers=[RichHandler(console=console)])
    logging.getLogger("mu0").setLevel(logging.INFO)


def pop_preset(args: list[str], default: str = "tiny") -> tuple[str, list[str]]:
    """Take `--preset NAME` / `--preset=NAME` out of `args` (tyro then parses the rest)."""
    rest, preset, i = [], default, 0
    while i < len(args):
        if args[i] == "--preset" and i + 1 < len(args):
            preset, i = args[i + 1], i + 2
            continue
        if args[i].startswith("--preset="):
            preset = args[i].split("=", 1)[1]
        else:
            rest.append(args[i])
        i += 1
    return preset, rest


def parse(cls, default, args: list[str], prog: str, description: str, prefixed: bool = False):
    """tyro over a frozen dataclass; flat option names (--size) unless `prefixed` (--data.horizon), which a
    command needs when two of its sections share a field name."""
    import tyro

    config = () if prefixed else (tyro.conf.OmitArgPrefixes,)
    return tyro.cli(cls, default=default, args=args, prog=prog, description=description, config=config)


def parse_with_preset(cls, default_from_preset, args: list[str], prog: str, description: str,
                      prefixed: bool = False):
    """`--preset` picked out of `args`, the rest parsed by tyro over the preset's defaults; None (after
    printing why) for an unknown preset."""
    from mu0.presets import UnknownPresetError, get_preset

    preset_name, args = pop_preset(args)
    try:
        preset = get_preset(preset_name)
    except UnknownPresetError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return None
    return parse(cls, default_from_preset(preset), args, prog, f"{description} {PRESET_HELP}", prefixed)


@contextmanager
def job_progress(total: int, what: str) -> Iterator:
    """A rich progress bar; yields a callback that advances it by one finished job."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("{task.fields[last]}"), console=console) as progress:
        task = progress.add_task(what, total=total, last="")

        def advance(job, outcomes) -> None:
            statuses = ",".join(sorted({o.status for o in outcomes}))
            progress.update(task, advance=1, last=f"{job.label} → {statuses}")

        yield advance
