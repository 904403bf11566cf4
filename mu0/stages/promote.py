"""Moving the `champion` alias to a version (default: the challenger) when the gate passes: its score on the test
episodes must not be worse than the champion's on the same episodes. A refusal is recorded on the version;
`force` overrides it, recorded with `reason` and the user."""

from __future__ import annotations

import dataclasses
import getpass

from mu0.stages.errors import BadArguments


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


def promote_stage(args: PromoteArgs):
    """Returns mlops.registry.Promotion: promoted or refused, with the reason and the champion before."""
    from mu0.mlops.tracking import configure
    from mu0.serving.publish import promote_version

    if args.force and not args.reason.strip():
        raise BadArguments("--force needs --reason (it is recorded on the model version)")
    configure()
    who = f"{getpass.getuser()}: {args.reason}" if args.force else ""
    try:
        return promote_version(args.version, args.force, who, model=args.model, tolerance=args.tolerance)
    except ValueError as exc:
        raise BadArguments(str(exc)) from None
