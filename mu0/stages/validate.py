"""The Great Expectations gate over raw episodes and the trace dataset: quarantine what fails non-critical
expectations, fail on a critical one (no data, drift, systemic failure)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from mu0.config import ValidationConfig
from mu0.stages.errors import BadArguments


@dataclasses.dataclass(frozen=True)
class ValidateArgs:
    # Folder of raw episodes to check (empty string: skip raw checks).
    raw: str = "data/raw"
    # Folder of trace episodes to check (empty string: skip trace and drift checks).
    traces: str = "artifacts/traces"
    # JSON report; a markdown report is written beside it.
    report: Path = Path("reports/validation.json")
    # Folder for quarantine notes of episodes that fail non-critical expectations.
    quarantine: Path = Path("data/quarantine/validation")
    # When the gate passes, store the trace dataset's statistics as the baseline for the next drift check.
    accept: bool = True
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


def validate_stage(args: ValidateArgs) -> ValidationResult:
    from mu0.validation import report as report_io
    from mu0.validation.gate import validate

    raw = Path(args.raw) if args.raw else None
    traces = Path(args.traces) if args.traces and Path(args.traces).is_dir() else None
    if raw is None and traces is None:
        raise BadArguments("nothing to validate (give --raw and/or --traces)")
    report = validate(raw, traces, args.validate, args.quarantine, accept=args.accept)
    report_io.write(report, args.report)
    return ValidationResult(bool(report["success"]), Path(args.report), report, report_io.markdown(report))
