"""Model cards: the markdown description each registered version carries, so the registry says what a
version is without opening its run — its scores against the baselines on the test episodes, the data and
traces it was trained on, and its main config. Built from the evaluation report, the lineage tags and the
recorded configs that registration already has."""

from __future__ import annotations

from mu0.mlops.tracking import flatten

MAX_CHARS = 5000  # MLflow's SQL stores keep at most 5000 characters of a description
TRACE_COLUMNS = ("ade_uv", "fde_uv", "minade_uv", "ade_px", "ade_depth")
WORLD_MAIN = ("model.kind", "model.backbone.pretrained", "model.backbone.image_size", "model.expert.width",
              "model.expert.layers", "model.expert.num_ctrl", "model.horizon", "model.history",
              "train.data.num_points", "train.train.steps", "train.train.micro_batch", "train.train.lr",
              "train.train.seed")
POLICY_MAIN = ("policy.use_trace", "policy.grid", "policy.chunk", "policy.action_dim", "policy.proprio_dim",
               "policy.wrist_tokens", "train.image_size", "train.steps", "train.finetune.micro_batch",
               "train.finetune.lr", "train.world_model")
WORLD_ABOUT = ("μ_0 trace world model: an RGB image, an instruction and query pixels in; each point's future "
               "trace (pixels and depth change) out. Versions are registered as `challenger` and promoted to "
               "`champion` when their ADE_uv is not worse than the champion's on the same test episodes. Each "
               "version's description is its model card.")
POLICY_ABOUT = ("Meta-World action expert reading a frozen μ_0: an image, an instruction and the robot's proprio "
                "in; the next chunk of actions out. Promoted on closed-loop failure rate against the champion on "
                "the same tasks and seeds. Each version's description is its model card.")
_SOURCES = {"groundtruth": "simulator-exact (the `groundtruth` tracker)",
            "unknown": "TraceExtract, official output (tracker not recorded)"}


def _number(value) -> str:
    return "–" if value is None else f"{value:.4f}"


def _trace_cell(metrics: dict, key: str) -> str:
    ci = metrics.get(f"{key}_ci95")
    return _number(metrics.get(key)) + (f" [{ci[0]:.4f}, {ci[1]:.4f}]" if ci else "")


def trace_metrics_table(report: dict, name: str = "mu0") -> str:
    """Every method of the report's headline protocol at this model's longest horizon (lower is better)."""
    methods = report["methods"]
    horizon = max(methods[name], key=int)
    keys = [k for k in TRACE_COLUMNS if any(k in per_h.get(horizon, {}) for per_h in methods.values())]
    lines = [f"| method | horizon | {' | '.join(keys)} |", "|---|---|" + "---|" * len(keys)]
    for method, per_h in methods.items():
        if horizon in per_h:
            label = f"**{method}** (this version)" if method == name else method
            lines.append(f"| {label} | {horizon} | " + " | ".join(_trace_cell(per_h[horizon], k) for k in keys) + " |")
    return "\n".join(lines)


def _success_cell(entry: dict) -> str:
    overall = entry.get("overall") or {}
    if "success" not in overall:
        return "–"
    lo, hi = overall.get("ci95", (None, None))
    interval = f" [{100 * lo:.0f}, {100 * hi:.0f}]" if lo is not None else ""
    return f"{100 * overall['success']:.1f}%{interval} (n={overall.get('episodes', '?')})"


def policy_metrics_table(report: dict, name: str) -> str:
    """Every policy the report rolled out on the same tasks and seeds: mean success, the gate's failure rate."""
    lines = ["| method | mean success | failure rate | pooled success [95% CI] |", "|---|---|---|---|"]
    for policy, entry in report["policies"].items():
        label = f"**{policy}** (this version)" if policy == name else policy
        success = float(entry["mean_success"])
        lines.append(f"| {label} | {100 * success:.1f}% | {1 - success:.4f} | {_success_cell(entry)} |")
    return "\n".join(lines)


def trace_source(counts: dict) -> str:
    """Which tracker made the training traces: simulator-exact or TraceExtract, with episode counts."""
    if not counts:
        return "not recorded"
    return "; ".join(f"{_SOURCES.get(s, f'TraceExtract (`{s}` tracker)')}: {n} episode{'s' * (n != 1)}"
                     for s, n in counts.items())


def _lineage(tags: dict) -> list[str]:
    parent = tags.get("lineage.parent_run_id")
    return [f"- Data: DVC hash of data/raw `{tags.get('lineage.data_raw_md5', 'unknown')}`, validation "
            f"{tags.get('lineage.validation', 'unknown')}",
            f"- Code: git commit `{tags.get('lineage.git_commit', 'unknown')}`",
            f"- Config hash `{tags.get('lineage.config_hash', '')}`; registered by run "
            f"`{tags.get('lineage.run_id', '')}`" + (f" (parent run `{parent}`)" if parent else "")]


def config_table(config: dict, keys: tuple[str, ...]) -> str:
    """The main fields of the resolved config (the full one is in the run's params and config.json)."""
    flat = flatten(config)
    rows = [f"| `{k}` | {f'`{flat[k]}`' if flat[k] else '–'} |" for k in keys if k in flat]
    return "\n".join(["| field | value |", "|---|---|", *rows]) if rows else "(no config recorded)"


def _fit(text: str) -> str:
    """Within MLflow's limit, cutting the end (the config) rather than failing the registration."""
    return text if len(text) <= MAX_CHARS else text[:MAX_CHARS - 40].rsplit("\n", 1)[0] + "\n\n(card cut short)"


def world_model_card(report: dict, tags: dict, config: dict) -> str:
    sources = config.get("train", {}).get("trace_sources", {})
    return _fit("\n".join([
        f"## μ_0 trace world model — gate {tags.get('eval.metric')} {tags.get('eval.score')}"
        + (f" (champion {tags['eval.champion_score']})" if "eval.champion_score" in tags else ""), "",
        f"### Metrics against the baselines ({report['split']} split, {report['episodes']} episodes, truth: "
        f"{report.get('truth') or 'unknown'}; lower is better)", "", trace_metrics_table(report), "",
        "### Lineage", "", *_lineage(tags), f"- Trace source: {trace_source(sources)}", "",
        "### Main config", "", config_table(config, WORLD_MAIN)]))


def policy_card(report: dict, name: str, tags: dict, config: dict, world_sources: dict) -> str:
    """`world_sources`: the trace sources recorded by the μ_0 the policy reads ({} when unknown)."""
    seeds = report["seeds"]
    return _fit("\n".join([
        f"## Meta-World policy `{name}` — gate {tags.get('eval.metric')} {tags.get('eval.score')}"
        + (f" (champion {tags['eval.champion_score']})" if "eval.champion_score" in tags else ""), "",
        f"### Metrics against the baselines (closed loop in Meta-World: {', '.join(report['tasks'])}; seeds "
        f"{seeds[0]}..{seeds[-1]})", "", policy_metrics_table(report, name), "",
        "### Lineage", "", *_lineage(tags),
        f"- μ_0 it reads: `{config.get('train', {}).get('world_model') or 'none'}`; its traces: "
        f"{trace_source(world_sources)}; actions: simulator-exact (scripted Meta-World experts)", "",
        "### Main config", "", config_table(config, POLICY_MAIN)]))
