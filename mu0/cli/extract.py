"""`mu0 extract`: raw episodes → trace episodes (samples/, captions.json) in the released layout."""

from __future__ import annotations

import dataclasses

from mu0.cli.common import console, parse_with_preset, results
from mu0.stages.extract import ExtractArgs


def run(args: list[str]) -> int:
    from rich.table import Table

    from mu0.cli.common import job_progress
    from mu0.episodes import list_episodes
    from mu0.stages.extract import extract_stage

    parsed = parse_with_preset(ExtractArgs, ExtractArgs.from_preset, args, "mu0 extract",
                               "TraceExtract: keypoints, tracking, 3D lifting, world alignment, motion labels, "
                               "retargeted samples and hierarchical captions for every raw episode.")
    if parsed is None:
        return 2
    raws = list_episodes(parsed.in_dir)
    if not raws:
        console.print(f"[red]error:[/red] no episodes under {parsed.in_dir}")
        return 2
    with job_progress(len(raws), "episodes") as advance:
        result = extract_stage(parsed, on_done=lambda raw, o: advance(_Label(raw.name), [o]))
    table = Table("episode", "status", "tracks", "moving", "coverage", "rows", "chunks", "detail",
                  title=f"traces → {parsed.out}")
    for o in result.outcomes:
        st = o.stats
        table.add_row(o.episode_id, o.status, str(st.get("tracks", "")), str(st.get("moving_tracks", "")),
                      str(st.get("coverage", "")), str(st.get("sample_rows", "")), str(st.get("chunks", "")),
                      st.get("reason", "") if o.status == "quarantined" else "")
    results.print(table)
    console.print("extract: " + ", ".join(f"{n} {s}" for s, n in result.counts.items()))
    console.print("check against ground truth: "
                  f"[cyan]mu0 extract-eval --raw {parsed.in_dir} --traces {parsed.out}[/cyan]")
    return 0 if result.usable else 1


@dataclasses.dataclass(frozen=True)
class _Label:
    # The label's text.
    label: str
