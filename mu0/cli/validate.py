"""`mu0 validate`: Great Expectations gate over raw episodes and the trace dataset."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from mu0.cli.common import console, parse_with_preset, results
from mu0.config import ValidationConfig


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


def run(args: list[str]) -> int:
    from rich.markdown import Markdown

    from mu0.validation import report as report_io
    from mu0.validation.gate import validate

    parsed = parse_with_preset(ValidateArgs, lambda p: ValidateArgs(validate=p.validate), args, "mu0 validate",
                               "Check raw episodes and trace datasets with Great Expectations; quarantine episodes "
                               "with non-critical failures and exit 1 on a critical one (no data, drift, systemic "
                               "failure).")
    if parsed is None:
        return 2
    raw = Path(parsed.raw) if parsed.raw else None
    traces = Path(parsed.traces) if parsed.traces and Path(parsed.traces).is_dir() else None
    if raw is None and traces is None:
        console.print("[red]error:[/red] nothing to validate (give --raw and/or --traces)")
        return 2
    report = validate(raw, traces, parsed.validate, parsed.quarantine, accept=parsed.accept)
    md = report_io.write(report, parsed.report)
    results.print(Markdown(report_io.markdown(report)))
    console.print(f"report → {parsed.report} and {md}")
    return 0 if report["success"] else 1
