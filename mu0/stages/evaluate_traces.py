"""Scoring μ_0 against the baselines (and the registered champion) on held-out trace episodes."""

from __future__ import annotations

import dataclasses
import logging
import tempfile
from pathlib import Path

from mu0.bundle.files import model_in
from mu0.config import TraceDataConfig
from mu0.evaluation.headline import trace_headline
from mu0.stages.reports import save_report
from mu0.stages.tracking import Tracking, stage_run

log = logging.getLogger(__name__)


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

    @classmethod
    def from_preset(cls, preset) -> EvaluateTracesArgs:
        return cls(data=preset.data)


@dataclasses.dataclass(frozen=True)
class TraceEvaluation:
    report_path: Path  # the JSON report; its markdown table lies beside it
    report: dict
    table: str  # markdown


def metric_name(name: str) -> str:
    """MLflow metric names allow letters, digits, _ - . : / and spaces."""
    import re

    return re.sub(r"[^\w\-.:/ ]", "_", name.replace("+", "_with_"))


def evaluate_traces_stage(args: EvaluateTracesArgs, tracking: Tracking = Tracking()) -> TraceEvaluation:
    from mu0.evaluation.trace_eval import evaluate_traces, markdown_table
    from mu0.models.checkpoint import read_kind

    folders = {"mu0": args.model}
    for folder in args.baselines:
        if Path(folder).is_dir():
            folders[read_kind(folder)[0]] = folder
        else:
            log.warning("baseline %s not found (train it with mu0 pretrain --kind ...); skipped", folder)
    tracking = dataclasses.replace(tracking, enabled=tracking.enabled and args.mlflow)
    with tempfile.TemporaryDirectory() as tmp, stage_run("evaluate-traces", tracking, {"stage": "evaluate"}) as tracker:
        if args.champion:
            from mu0.mlops.tracking import configure
            from mu0.serving.publish import champion_folder

            configure()
            champion = champion_folder(Path(tmp))
            if champion is not None:
                folders["champion"] = champion
            log.info("champion: %s", champion or "none registered yet")
        report = evaluate_traces(folders, args.traces, args.data, args.split, args.samples, args.horizons,
                                 overlay_dir=args.overlays, max_queries=args.max_queries, raw_dir=args.raw,
                                 truth_dir=args.truth_traces, protocols=args.protocols)
        table = markdown_table(report)
        for protocol, scored in report["protocols"].items():
            for method, per_h in scored["methods"].items():
                for h, m in per_h.items():
                    tracker.log_metrics({metric_name(f"{protocol}/{method}/{k}/h{h}"): v for k, v in m.items()
                                         if isinstance(v, (int, float)) and not isinstance(v, bool)}, 0)
        save_report(tracker, args.report, report, table, args.overlays, headline=trace_headline(report))
    return TraceEvaluation(Path(args.report), report, table)
