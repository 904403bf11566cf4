"""`mu0 evaluate policy`: closed-loop success of fine-tuned policies in Meta-World, side by side."""

from __future__ import annotations

from mu0.cli.common import console, parse_with_preset, results
from mu0.stages.evaluate_policy import EvaluatePolicyArgs


def run(args: list[str]) -> int:
    from rich.markdown import Markdown

    from mu0.stages.evaluate_policy import evaluate_policy_stage

    parsed = parse_with_preset(EvaluatePolicyArgs, EvaluatePolicyArgs.from_preset, args,
                               "mu0 evaluate policy", "Roll policies out in Meta-World on fixed, recorded seeds "
                               "(disjoint from their training seeds) in parallel processes: success with Wilson "
                               "95% intervals, episode length, videos with predicted traces.", prefixed=True)
    if parsed is None:
        return 2

    def done(name, outcome) -> None:
        status = "success" if outcome.success else ("error: " + outcome.error if outcome.error else "failure")
        console.print(f"{name:>18} {outcome.task} seed {outcome.seed}: {status} after {outcome.length} steps")

    evaluation = evaluate_policy_stage(parsed, on_done=done)
    results.print(Markdown(evaluation.table))
    console.print(f"report → {evaluation.report_path}; videos → {parsed.videos}")
    return 0
