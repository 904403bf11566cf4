"""`mu0 promote`: move the `champion` alias to a version (default: the challenger) when the gate passes:
its score on the test episodes must not be worse than the champion's on the same episodes. A refusal is
recorded on the version; --force overrides it, recorded with --reason."""

from __future__ import annotations

import dataclasses
import json

from mu0.cli.common import console, parse, results
from mu0.stages.promote import PromoteArgs


def run(args: list[str]) -> int:
    from mu0.stages.errors import BadArguments
    from mu0.stages.promote import promote_stage

    parsed = parse(PromoteArgs, PromoteArgs(), args, "mu0 promote", __doc__.removeprefix("`mu0 promote`: "))
    if parsed is None:
        return 2
    try:
        promotion = promote_stage(parsed)
    except BadArguments as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    results.print(json.dumps(dataclasses.asdict(promotion), indent=2))
    return 0 if promotion.promoted else 1
