"""`mu0 extract`: raw episodes → trace episodes (samples/, captions.json) in the released layout."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import tyro

from mu0.cli.common import console, parse_with_preset, results
from mu0.config import TraceExtractConfig


@dataclasses.dataclass(frozen=True)
class ExtractArgs:
    # Folder of raw episodes.
    in_dir: Annotated[Path, tyro.conf.arg(name="in")] = Path("data/raw")
    # Folder that receives one trace episode per raw episode.
    out: Path = Path("artifacts/traces")
    # Folder for notes about episodes that were rejected, with the reason.
    quarantine: Path = Path("artifacts/quarantine/traces")
    # How traces are extracted.
    extract: TraceExtractConfig = TraceExtractConfig()


def run(args: list[str]) -> int:
    from rich.table import Table

    from mu0.cli.common import job_progress
    from mu0.episodes import list_episodes
    from mu0.trace_extract.stage import extract

    parsed = parse_with_preset(ExtractArgs, lambda p: ExtractArgs(extract=p.extract), args, "mu0 extract",
                               "TraceExtract: keypoints, tracking, 3D lifting, world alignment, motion labels, "
                               "retargeted samples and hierarchical captions for every raw episode.")
    if parsed is None:
        return 2
    raws = list_episodes(parsed.in_dir)
    if not raws:
        console.print(f"[red]error:[/red] no episodes under {parsed.in_dir}")
        return 2
    with job_progress(len(raws), "episodes") as advance:
        outcomes = extract(parsed.in_dir, parsed.out, parsed.quarantine, parsed.extract,
                           on_done=lambda raw, o: advance(_Label(raw.name), [o]))
    table = Table("episode", "status", "tracks", "moving", "coverage", "rows", "chunks", "detail",
                  title=f"traces → {parsed.out}")
    for o in outcomes:
        st = o.stats
        table.add_row(o.episode_id, o.status, str(st.get("tracks", "")), str(st.get("moving_tracks", "")),
                      str(st.get("coverage", "")), str(st.get("sample_rows", "")), str(st.get("chunks", "")),
                      st.get("reason", "") if o.status == "quarantined" else "")
    results.print(table)
    counts = {s: sum(o.status == s for o in outcomes) for s in ("written", "replaced", "unchanged", "quarantined")}
    console.print("extract: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    console.print("check against ground truth: "
                  f"[cyan]mu0 extract-eval --raw {parsed.in_dir} --traces {parsed.out}[/cyan]")
    return 0 if len(outcomes) > counts["quarantined"] else 1


@dataclasses.dataclass(frozen=True)
class _Label:
    # The label's text.
    label: str
