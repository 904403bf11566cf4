"""`mu0 evaluate traces`: μ_0 against the baselines on held-out trace episodes (`mu0 evaluate policy`: see
evaluate_policy.py)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from mu0.bundle.files import model_in
from mu0.cli.common import console, parse_with_preset, results, save_report
from mu0.config import TraceDataConfig


@dataclasses.dataclass(frozen=True)
class EvaluateTracesArgs:
    # The pretrained model folder (config.json, model.safetensors, delta_stats.json).
    model: Path = model_in("artifacts/mu0")
    # Learned baselines' model folders, scored beside it (a folder that does not exist is skipped, and said).
    baselines: tuple[Path, ...] = (model_in("artifacts/track-transformer"), model_in("artifacts/tokenized-vlm"))
    # Folder for pictures of predicted against true traces on test frames.
    overlays: Path = Path("reports/trace_overlays")
    # Folder of trace episodes (the split is recomputed from the same seed, so test stays test).
    traces: Path = Path("artifacts/traces")
    # Raw episodes of those traces: where they carry simulator ground truth (gt/) and the traces were made
    # by a tracker, the test episodes are traced again by the simulator and scored against that truth.
    raw: Path = Path("data/raw")
    # Where those simulator-exact traces go (default: the traces folder's name + "-truth").
    truth_traces: Path | None = None
    # Protocols to score: recipe (frames 4/8/12, 16 moving points, no history), dense (every query frame,
    # moving points, with history), all (every point, with history).
    protocols: tuple[str, ...] = ("recipe", "dense", "all")
    # Split to score ("test"; falls back to "val" when test is empty, and says so).
    split: str = "test"
    # Samples per query for μ_0 (minADE/minFDE take the best).
    samples: int = 5
    # Score at most this many query frames, spread evenly over the split (0: all of them).
    max_queries: int = 0
    # Horizons (steps) to report.
    horizons: tuple[int, ...] = (8, 16, 32)
    # JSON report; a markdown table is written beside it.
    report: Path = Path("reports/metrics.json")
    # Also score the registered champion (models:/mu0-world-model@champion) on the same episodes, so a
    # promotion gate can compare the two; skipped when there is no champion yet.
    champion: bool = False
    # Log the report and overlays to an MLflow run.
    mlflow: bool = True
    # How samples are built (horizon and history follow the model).
    data: TraceDataConfig = TraceDataConfig()


def metric_name(name: str) -> str:
    """MLflow metric names allow letters, digits, _ - . : / and spaces."""
    import re

    return re.sub(r"[^\w\-.:/ ]", "_", name.replace("+", "_with_"))


def run(args: list[str]) -> int:
    from rich.markdown import Markdown

    from mu0.evaluation.trace_eval import evaluate_traces, markdown_table

    if args and args[0] == "policy":
        from mu0.cli.evaluate_policy import run as run_policy

        return run_policy(args[1:])
    if not args or args[0] != "traces":
        console.print("usage: mu0 evaluate {traces,policy} [OPTIONS]   (mu0 evaluate traces|policy --help)")
        return 0 if args and args[0] in ("-h", "--help") else 2
    parsed = parse_with_preset(EvaluateTracesArgs, lambda p: EvaluateTracesArgs(data=p.data), args[1:],
                               "mu0 evaluate traces", "Score μ_0's trace predictions (ADE, FDE, minADE, DTW, "
                               "Fréchet, smoothness; uv, pixels, depth, 3D) against the learned baselines and the "
                               "static and constant-velocity ones.")
    if parsed is None:
        return 2
    from mu0.models.checkpoint import read_kind

    folders = {"mu0": parsed.model}
    for folder in parsed.baselines:
        if folder.is_dir():
            folders[read_kind(folder)[0]] = folder
        else:
            console.print(f"baseline {folder} not found (train it with mu0 pretrain --kind ...); skipped")
    import tempfile

    from mu0.cli.tracking import stage_tracker

    with tempfile.TemporaryDirectory() as tmp, stage_tracker("evaluate-traces", parsed.mlflow,
                                                                {"stage": "evaluate"}) as tracker:
        if parsed.champion:
            from mu0.mlops.tracking import configure
            from mu0.serving.publish import champion_folder

            configure()
            champion = champion_folder(Path(tmp))
            if champion is not None:
                folders["champion"] = champion
            console.print(f"champion: {champion or 'none registered yet'}")
        report = evaluate_traces(folders, parsed.traces, parsed.data, parsed.split, parsed.samples,
                                 parsed.horizons, overlay_dir=parsed.overlays, max_queries=parsed.max_queries,
                                 raw_dir=parsed.raw, truth_dir=parsed.truth_traces, protocols=parsed.protocols)
        table = markdown_table(report)
        for protocol, scored in report["protocols"].items():
            for method, per_h in scored["methods"].items():
                for h, m in per_h.items():
                    tracker.log_metrics({metric_name(f"{protocol}/{method}/{k}/h{h}"): v for k, v in m.items()
                                         if isinstance(v, (int, float)) and not isinstance(v, bool)}, 0)
        save_report(tracker, parsed.report, report, table, parsed.overlays)
    results.print(Markdown(table))
    console.print(f"report → {parsed.report}; {json.dumps({'split': report['split'], 'truth': report['truth']})}")
    return 0
