"""`mu0 extract-eval`: TraceExtract's tracks against simulator ground truth, as a table and a report."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from mu0.cli.common import console, parse, results


@dataclasses.dataclass(frozen=True)
class ExtractEvalArgs:
    # Folder of raw episodes (simulated ones carry gt/).
    raw: Path = Path("data/raw")
    # Folder of trace episodes written by `mu0 extract`.
    traces: Path = Path("artifacts/traces")
    # JSON report; a markdown table is written beside it.
    report: Path = Path("reports/extract_eval.json")
    # Folder for overlay pictures (tracks and ground truth on frames), one per task and camera.
    overlays: Path = Path("reports/extract_eval")


def _save_overlays(report: dict, args: ExtractEvalArgs) -> int:
    import numpy as np

    from mu0.episodes import open_episode
    from mu0.episodes.trace_layout import IS_MOVING, TRACK_START, TRACK_UV_PX, TRACK_VISIBLE, TRACKS_FILE
    from mu0.evaluation.overlays import save_png, track_overlay
    from mu0.trace_extract.groundtruth import track_query_pixels

    done, saved = set(), 0
    for row in report["episodes"]:
        key = (row["task"], row["camera"])
        if key in done:
            continue
        done.add(key)
        raw = open_episode(args.raw / row["episode_id"])
        with np.load(args.traces / row["episode_id"] / TRACKS_FILE) as tr:
            uv, vis, moving, start = tr[TRACK_UV_PX], tr[TRACK_VISIBLE], tr[IS_MOVING], tr[TRACK_START]
        q = np.rint(uv[start == 0, 0]).astype(np.int64)
        truth = track_query_pixels(raw, q).uv_px if len(q) else None
        picture = track_overlay(np.asarray(raw.images), uv, vis, moving, truth)
        save_png(picture, args.overlays / f"{row['episode_id']}.png")
        saved += 1
    return saved


def run(args: list[str]) -> int:
    from rich.markdown import Markdown

    from mu0.evaluation.extract_eval import evaluate, markdown_table, write_report

    parsed = parse(ExtractEvalArgs, ExtractEvalArgs(), args, "mu0 extract-eval",
                   "Compare TraceExtract's tracks with simulator ground truth: 2D δ_avg / occlusion accuracy / "
                   "average Jaccard (TAP-Vid, 256×256 scale), 3D errors, and camera pose errors when estimated.")
    report = evaluate(parsed.raw, parsed.traces)
    if not report["episodes"]:
        console.print(f"[red]error:[/red] no trace episode in {parsed.traces} made by a tracker has a simulated "
                      f"raw episode in {parsed.raw} (traces made with --tracker groundtruth are the truth itself)")
        return 2
    md = write_report(report, parsed.report)
    results.print(Markdown(markdown_table(report)))
    n = _save_overlays(report, parsed)
    console.print(f"report → {parsed.report} and {md}; {n} overlay pictures → {parsed.overlays}/")
    return 0
