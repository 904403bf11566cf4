"""`mu0 register`: log a trained μ_0 folder (or, with --target policy, a fine-tuned policy) to MLflow as a
pyfunc model and register it as `challenger` — mu0-world-model or mu0-policy-metaworld — with lineage tags
(git commit, DVC hash of data/raw, validation result, config hash, parent run) and the gate scores from its
evaluation report."""

from __future__ import annotations

import json

from mu0.cli.common import console, parse, results
from mu0.stages.register import RegisterArgs


def run(args: list[str]) -> int:
    from mu0.stages.errors import BadArguments
    from mu0.stages.register import register_stage

    parsed = parse(RegisterArgs, RegisterArgs(), args, "mu0 register", __doc__.removeprefix("`mu0 register`: "))
    if parsed is None:
        return 2
    try:
        registration = register_stage(parsed)
    except BadArguments as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    results.print(json.dumps(json.loads(registration.summary_path.read_text()), indent=2))
    return 0
