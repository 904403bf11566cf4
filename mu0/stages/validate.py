"""The Great Expectations gate over raw episodes and the trace dataset: quarantine what fails non-critical
expectations, fail on a critical one (no data, drift, systemic failure). Its Data Docs land beside the report."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from mu0.config import ValidationConfig
from mu0.stages.errors import BadArguments
from mu0.stages.reports import save_report
from mu0.stages.tracking import Tracking, stage_run


@dataclasses.dataclass(frozen=True)
class ValidateArgs:
    # Folder of raw episodes to check (empty string: skip raw checks).
    raw: str = "data/raw"
    # Folder of trace episodes to check (empty string: skip trace and drift checks).
    traces: str = "artifacts/traces"
    # JSON report; a markdown report is written beside it, and the Data Docs in validation_docs/ beside it.
    report: Path = Path("reports/validation.json")
    # Folder for quarantine notes of episodes that fail non-critical expectations.
    quarantine: Path = Path("data/quarantine/validation")
    # When the gate passes, store the trace dataset's statistics as the baseline for the next drift check.
    accept: bool = True
    # Log the reports and the Data Docs folder to an MLflow run.
    mlflow: bool = True
    # What is checked and how strictly.
    validate: ValidationConfig = ValidationConfig()

    @classmethod
    def from_preset(cls, preset) -> ValidateArgs:
        return cls(validate=preset.validate)


@dataclasses.dataclass(frozen=True)
class ValidationResult:
    success: bool
    report_path: Path  # JSON; the markdown report lies beside it
    report: dict
    markdown: str
    docs: Path | None = None  # the Data Docs folder (open its index.html)


def _metrics(report: dict) -> dict[str, float]:
    failed = sum(not c["success"] for c in report["checks"])
    return {"validation/success": float(report["success"]), "validation/episodes": report["episodes"],
            "validation/quarantined": len(report["quarantined"]),
            "validation/accepted": len(report["accepted_episodes"]), "validation/failed_expectations": failed}


def validate_stage(args: ValidateArgs, tracking: Tracking = Tracking()) -> ValidationResult:
    from mu0.validation import report as report_io
    from mu0.validation.gate import validate
    from mu0.validation.gx_project import docs_dir

    raw = Path(args.raw) if args.raw else None
    traces = Path(args.traces) if args.traces and Path(args.traces).is_dir() else None
    if raw is None and traces is None:
        raise BadArguments("nothing to validate (give --raw and/or --traces)")
    report_path, docs = Path(args.report), docs_dir(args.report)
    tracking = dataclasses.replace(tracking, enabled=tracking.enabled and args.mlflow)
    with stage_run("validate", tracking, {"stage": "validate"}) as tracker:
        report = validate(raw, traces, args.validate, args.quarantine, accept=args.accept, docs=docs)
        text = report_io.markdown(report, report_io.docs_link(report_path.with_suffix(".md"), docs))
        save_report(tracker, report_path, report, text, docs)
        tracker.log_metrics(_metrics(report), 0)
    return ValidationResult(bool(report["success"]), report_path, report, text, docs)
