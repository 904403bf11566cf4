"""`evaluate policy`: several policies rolled out on the same tasks and seeds, success rates with Wilson
95% intervals, episode lengths, errors, videos — per task and as the mean over tasks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from mu0.bundle.policy_bundle import PolicyRunner
from mu0.config import RolloutConfig, to_dict
from mu0.evaluation.policy_rollout import (
    EpisodeOutcome,
    check_action_space,
    check_cameras,
    default_env,
    rollout_jobs,
    run_rollouts,
)


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (stays inside [0, 1], sane at 0/n and n/n); `z` is the
    two-sided normal quantile (1.959964: 95%). NaN for no trials."""
    from scipy.special import ndtr
    from scipy.stats import binomtest

    if n == 0:
        return float("nan"), float("nan")
    ci = binomtest(successes, n).proportion_ci(confidence_level=1 - 2 * ndtr(-z), method="wilson")
    return float(ci.low), float(ci.high)


def summarise(outcomes: list[EpisodeOutcome]) -> dict:
    n, k = len(outcomes), sum(o.success for o in outcomes)
    lo, hi = wilson_interval(k, n)
    plan = [o.plan_ms for o in outcomes if o.plans]
    return {"success": k / n if n else float("nan"), "ci95": [lo, hi], "successes": k, "episodes": n,
            "mean_length": float(np.mean([o.length for o in outcomes])) if n else float("nan"),
            "errors": sum(o.error is not None for o in outcomes), "plan_ms": float(np.mean(plan)) if plan else None}


def check_policies(runners: dict[str, PolicyRunner], tasks: list[str], cfg: RolloutConfig,
                   make_env: Callable = default_env) -> None:
    """Fail before any rollout: evaluation seeds that a policy trained on, an action size that does not
    fit the environment, or a camera the scene does not have."""
    seeds = set(range(cfg.seed, cfg.seed + cfg.episodes_per_task))
    for name, runner in runners.items():
        overlap = sorted(seeds & runner.processor.train_seeds)
        if overlap:
            raise ValueError(f"{runner.folder}: policy '{name}' was trained on seeds {overlap[:5]}, which the "
                             f"evaluation would reuse; pick --rollout.seed outside its training seeds")
    env, _ = make_env(tasks[0], cfg.seed)
    try:
        for runner in runners.values():
            check_action_space(env, runner, tasks[0])
            check_cameras(env, runner)
    finally:
        env.close()


def evaluate_policies(folders: dict[str, Path], cfg: RolloutConfig, video_dir: Path | None = None,
                      on_done: Callable[[str, EpisodeOutcome], None] | None = None) -> dict:
    """Roll out every policy on the same (task, seed) list; the report holds per-episode outcomes too."""
    runners = {name: PolicyRunner(folder) for name, folder in folders.items()}
    tasks = list(cfg.tasks) or sorted({t for r in runners.values() for t in r.processor.tasks})
    if not tasks:
        raise ValueError("no tasks to roll out: give --rollout.tasks (the policies do not record theirs)")
    check_policies(runners, tasks, cfg)
    # tasks held out of a μ_0's pretraining (any policy's), reported on their own line for every policy
    heldout = sorted({t for r in runners.values() for t in r.processor.world_holdout_tasks} & set(tasks))
    report: dict = {"rollout": to_dict(cfg), "tasks": tasks, "heldout_tasks": heldout,
                    "seeds": list(range(cfg.seed, cfg.seed + cfg.episodes_per_task)), "policies": {}}
    for name, folder in folders.items():
        jobs = rollout_jobs(tasks, cfg, video_dir / name if video_dir else None)
        outcomes = run_rollouts(folder, jobs, cfg.workers, (lambda o, n=name: on_done(n, o)) if on_done else None)
        per_task = {task: summarise([o for o in outcomes if o.task == task]) for task in tasks}
        rates = [per_task[t]["success"] for t in tasks]
        overall = summarise(outcomes)
        report["policies"][name] = {
            "folder": str(folder), "per_task": per_task, "overall": overall,
            "mean_success": float(np.mean(rates)),
            # every task has the same episodes, so the pooled rate is the mean over tasks: its Wilson interval
            "mean_success_ci95": overall["ci95"],
            # measured on the evaluated weights at each episode's first observation; training's record beside it
            "trace_reading": _mean_reading(outcomes),
            "trace_reading_at_training": runners[name].processor.trace_reading,
            "heldout": summarise([o for o in outcomes if o.task in heldout]) if heldout else None,
            "episodes": [o.__dict__ for o in outcomes],
            "control_ms_per_step": _control_ms(outcomes, cfg.execute),
        }
    return report


def _mean_reading(outcomes: list[EpisodeOutcome]) -> dict[str, float]:
    readings = [o.trace_reading for o in outcomes if o.trace_reading]
    return {key: float(np.mean([r[key] for r in readings])) for key in readings[0]} if readings else {}


def _control_ms(outcomes: list[EpisodeOutcome], execute: int) -> float | None:
    """Policy time per environment step, amortised over the executed part of each chunk."""
    plans = [(o.plan_ms, o.plans) for o in outcomes if o.plans]
    steps = sum(o.length for o in outcomes if o.plans)
    if not plans or not steps:
        return None
    return sum(ms * n for ms, n in plans) / steps


def markdown_table(report: dict) -> str:
    names = list(report["policies"])
    lines = ["| task | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]

    def cell(s: dict) -> str:
        lo, hi = s["ci95"]
        return f"{100 * s['success']:.0f}% [{100 * lo:.0f}, {100 * hi:.0f}] (n={s['episodes']})"

    heldout = report.get("heldout_tasks", [])
    for task in report["tasks"]:
        label = f"{task} (held out of μ_0)" if task in heldout else task
        lines.append(f"| {label} | " + " | ".join(cell(report["policies"][n]["per_task"][task]) for n in names) + " |")
    lines.append("| **mean over tasks** | " + " | ".join(
        f"**{100 * report['policies'][n]['mean_success']:.1f}%** (pooled {cell(report['policies'][n]['overall'])})"
        for n in names) + " |")
    if heldout:
        lines.append(f"| **held out of μ_0's pretraining** ({', '.join(heldout)}) | " + " | ".join(
            cell(report["policies"][n]["heldout"]) for n in names) + " |")
    lines.append("| mean episode length | " + " | ".join(
        f"{report['policies'][n]['overall']['mean_length']:.0f}" for n in names) + " |")
    lines.append("| policy ms / env step | " + " | ".join(
        f"{report['policies'][n]['control_ms_per_step'] or float('nan'):.1f}" for n in names) + " |")
    lines.append("| how much the decoder reads μ_0 | " + " | ".join(
        ", ".join(f"{k} {v:.3f}" for k, v in report["policies"][n].get("trace_reading", {}).items()) or "—"
        for n in names) + " |")
    seeds = report["seeds"]
    return "\n".join(lines) + f"\n\nSeeds {seeds[0]}..{seeds[-1]} per task; Wilson 95% intervals.\n"
