"""The few figures of each report that `dvc metrics diff` and `dvc exp show` compare across runs. The full
reports hold thousands of numbers (every method, horizon, metric, interval and task); a DVC table of all of
them is unreadable, so the pipeline's `metrics:` are these headlines and the full reports are plain outputs."""

from __future__ import annotations

HEADLINE_KEYS = ("ade_uv", "ade_xyz")  # the ADE of the longest horizon, in image and in metric units


def trace_headline(report: dict) -> dict:
    """Per protocol (and its held-out tasks): each method's ADE at the longest horizon scored."""
    out: dict = {}
    for pname, proto in report.get("protocols", {}).items():
        sections = {"seen": proto.get("methods", {})}
        if "heldout_tasks" in proto:
            sections["heldout"] = proto["heldout_tasks"]["methods"]
        for section, methods in sections.items():
            for method, per_h in methods.items():
                if not per_h or method.startswith("mu0_"):  # μ_0's sample and sample mean: diagnostics
                    continue
                h = max(per_h, key=int)
                figures = {f"{k}_h{h}": per_h[h][k] for k in HEADLINE_KEYS if k in per_h[h]}
                out.setdefault(pname, {}).setdefault(section, {})[method] = figures
    return out


def policy_headline(report: dict) -> dict:
    """Each policy's mean success over tasks, and on the tasks held out of μ_0's pretraining."""
    out = {}
    for name, entry in report.get("policies", {}).items():
        out[name] = {"mean_success": entry["mean_success"]}
        if entry.get("heldout"):
            out[name]["heldout_success"] = entry["heldout"]["success"]
    return out

