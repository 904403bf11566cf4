"""`mu0 promote`: move the `champion` alias to a version (default: the challenger) when the gate passes:
its score on the test episodes must not be worse than the champion's on the same episodes. A refusal is
recorded on the version; --force overrides it, recorded with --reason."""

from __future__ import annotations

import dataclasses
import getpass
import json

from mu0.cli.common import console, parse, results


@dataclasses.dataclass(frozen=True)
class PromoteArgs:
    # The registered model: mu0-world-model or mu0-policy-metaworld.
    model: str = "mu0-world-model"
    # Version to promote (default: the one aliased `challenger`).
    version: str | None = None
    # Promote even if the gate refuses (recorded as a tag with --reason and the user).
    force: bool = False
    # Why a forced promotion is right; required with --force.
    reason: str = ""
    # Relative slack: the challenger may be this much worse than the champion and still pass.
    tolerance: float = 0.0


def run(args: list[str]) -> int:
    from mu0.mlops.tracking import configure
    from mu0.serving.publish import promote_version

    parsed = parse(PromoteArgs, PromoteArgs(), args, "mu0 promote", __doc__.removeprefix("`mu0 promote`: "))
    if parsed is None:
        return 2
    if parsed.force and not parsed.reason.strip():
        console.print("[red]error:[/red] --force needs --reason (it is recorded on the model version)")
        return 2
    configure()
    who = f"{getpass.getuser()}: {parsed.reason}" if parsed.force else ""
    try:
        promotion = promote_version(parsed.version, parsed.force, who, model=parsed.model,
                                    tolerance=parsed.tolerance)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    results.print(json.dumps(dataclasses.asdict(promotion), indent=2))
    return 0 if promotion.promoted else 1
