"""The `mu0` command: one sub-module per subcommand, dispatched here by the first argument.

Each subcommand parses its own options with tyro from the frozen config dataclasses, so
`mu0 <command> --help` lists every option with the comment written above its field.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

COMMANDS: dict[str, tuple[str, str]] = {
    # name: (module, one-line help)
    "ingest": ("mu0.cli.ingest", "ingest episodes into data/raw: `metaworld`, `video PATH...` or `s3://bucket/prefix`"),
    "inspect": ("mu0.cli.inspect", "list the episodes of a folder, or save a contact sheet of one episode"),
    "extract": ("mu0.cli.extract", "TraceExtract: raw episodes → 3D traces with captions (artifacts/traces)"),
    "train-flow": ("mu0.cli.train_flow", "TraceExtract's flow network (`extract --motion learned`) from simulator "
                   "ground truth"),
    "extract-eval": ("mu0.cli.extract_eval", "TraceExtract's tracks against simulator ground truth (reports/)"),
    "validate": ("mu0.cli.validate", "Great Expectations gate over raw and trace data (reports/validation.md)"),
    "pretrain": ("mu0.cli.pretrain", "pretrain μ_0 on the accepted trace episodes with DeepSpeed (artifacts/mu0)"),
    "finetune": ("mu0.cli.finetune", "an action expert on a frozen μ_0 (or scratch / action-pretrained) from demos"),
    "evaluate": ("mu0.cli.evaluate", "`evaluate traces`: μ_0 vs baselines (reports/metrics.md); `evaluate policy`: "
                 "Meta-World success"),
    "register": ("mu0.cli.register", "log + register μ_0 (or --target policy) as `challenger` with lineage (MLflow)"),
    "promote": ("mu0.cli.promote", "move `champion` to the challenger if it beats the champion (or --force)"),
    "data": ("mu0.cli.data", "version data/raw with DVC (`data version`) or fetch it from the remote (`data pull`)"),
}
USAGE = "usage: mu0 COMMAND [OPTIONS]   (mu0 COMMAND --help for a command's options)"


def print_help() -> None:
    print(USAGE)
    print("\nμ_0: 3D interaction-trace world model platform. Commands:")
    for name, (_, text) in COMMANDS.items():
        print(f"  {name:<13} {text}")
    print("\nSettings (DVC remote, S3 endpoint) come from MU0_* environment variables; see README.md.")


def strip_launcher_args(argv: list[str]) -> list[str]:
    """The `deepspeed` launcher puts --local_rank=N before the subcommand; the rank is in the environment
    (LOCAL_RANK) as well, which is where training reads it, so the argument is dropped wherever it stands."""
    out, i = [], 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith(("--local_rank=", "--local-rank=")):
            os.environ.setdefault("LOCAL_RANK", arg.split("=", 1)[1])
        elif arg in ("--local_rank", "--local-rank") and i + 1 < len(argv):
            os.environ.setdefault("LOCAL_RANK", argv[i + 1])
            i += 1
        else:
            out.append(arg)
        i += 1
    return out


def main(argv: list[str] | None = None) -> int:
    argv = strip_launcher_args(list(sys.argv[1:] if argv is None else argv))
    if not argv or argv[0] in ("-h", "--help"):
        print_help()
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"mu0: unknown command '{name}'. {USAGE}", file=sys.stderr)
        return 2
    import importlib

    from mu0.cli.common import setup_logging

    setup_logging()
    run: Callable[[list[str]], int] = importlib.import_module(COMMANDS[name][0]).run
    return run(rest)


if __name__ == "__main__":
    raise SystemExit(main())
