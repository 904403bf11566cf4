"""`mu0 register`: log a trained μ_0 folder to MLflow as a pyfunc model and register it as `challenger`,
with lineage tags (git commit, DVC hash of data/raw, validation result, config hash, parent run) and the
gate scores from its evaluation report."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from mu0.cli.common import console, parse, results


@dataclasses.dataclass(frozen=True)
class RegisterArgs:
    # The trained model folder.
    model: Path = Path("artifacts/mu0/model")
    # Its evaluation report (mu0 evaluate traces; with --champion for a gate against the champion).
    report: Path = Path("reports/metrics.json")
    # The validation report of the data it was trained on.
    validation: Path = Path("reports/validation.json")
    # Where the registration summary goes.
    out: Path = Path("reports/registration.json")


def run(args: list[str]) -> int:
    import os

    from mu0.cli.tracking import PARENT_ENV, stage_tracker
    from mu0.episodes.atomic import write_json_atomic
    from mu0.mlops.tracking import configure
    from mu0.serving.publish import publish_world_model

    parsed = parse(RegisterArgs, RegisterArgs(), args, "mu0 register", __doc__.removeprefix("`mu0 register`: "))
    if parsed is None:
        return 2
    for path in (parsed.model / "config.json", parsed.report):
        if not path.exists():
            console.print(f"[red]error:[/red] {path} does not exist (run mu0 pretrain / mu0 evaluate traces)")
            return 2
    configure()
    with stage_tracker("register", True, {"stage": "register"}) as tracker:
        summary = publish_world_model(parsed.model, parsed.report, parsed.validation, tracker.run_id,
                                      os.environ.get(PARENT_ENV))
    write_json_atomic(parsed.out, summary)
    results.print(json.dumps(summary, indent=2))
    return 0
