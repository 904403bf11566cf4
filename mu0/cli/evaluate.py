"""`mu0 evaluate traces`: μ_0 against the baselines on held-out trace episodes (`mu0 evaluate policy`: see
evaluate_policy.py)."""

from __future__ import annotations

import json

from mu0.cli.common import console, parse_with_preset, results
from mu0.stages.evaluate_traces import EvaluateTracesArgs


def run(args: list[str]) -> int:
    from rich.markdown import Markdown

    from mu0.stages.evaluate_traces import evaluate_traces_stage

    if args and args[0] == "policy":
        from mu0.cli.evaluate_policy import run as run_policy

        return run_policy(args[1:])
    if not args or args[0] != "traces":
        console.print("usage: mu0 evaluate {traces,policy} [OPTIONS]   (mu0 evaluate traces|policy --help)")
        return 0 if args and args[0] in ("-h", "--help") else 2
    parsed = parse_with_preset(EvaluateTracesArgs, EvaluateTracesArgs.from_preset, args[1:],
                               "mu0 evaluate traces", "Score μ_0's trace predictions (ADE, FDE, minADE, DTW, "
                               "Fréchet, smoothness; uv, pixels, depth, 3D) against the learned baselines and the "
                               "static and constant-velocity ones.")
    if parsed is None:
        return 2
    done = evaluate_traces_stage(parsed)
    results.print(Markdown(done.table))
    console.print(f"report → {done.report_path}; "
                  f"{json.dumps({'split': done.report['split'], 'truth': done.report['truth']})}")
    return 0
