"""`mu0 validate`: Great Expectations gate over raw episodes and the trace dataset."""

from __future__ import annotations

from mu0.cli.common import console, parse_with_preset, results
from mu0.stages.validate import ValidateArgs


def run(args: list[str]) -> int:
    from rich.markdown import Markdown

    from mu0.stages.errors import BadArguments
    from mu0.stages.validate import validate_stage

    parsed = parse_with_preset(ValidateArgs, ValidateArgs.from_preset, args, "mu0 validate",
                               "Check raw episodes and trace datasets with Great Expectations; quarantine episodes "
                               "with non-critical failures and exit 1 on a critical one (no data, drift, systemic "
                               "failure).")
    if parsed is None:
        return 2
    try:
        result = validate_stage(parsed)
    except BadArguments as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    results.print(Markdown(result.markdown))
    console.print(f"report → {result.report_path} and {result.report_path.with_suffix('.md')}; "
                  f"Data Docs → {result.docs / 'index.html'}")
    return 0 if result.success else 1
