"""The data-scaling curve: μ_0 trained on nested subsets of the pretraining episodes (the same budget for
each), every one scored on the same test split; this merges their `mu0 evaluate traces` reports.

`python -m mu0.evaluation.scaling_report OUT_DIR REPORT...` reads the reports (each point's episode count
is the one its μ_0 run really trained on, from its train_config.json) and writes
`OUT_DIR/metrics.json`: `points` (N ascending), and `protocols.<p>.<seen|heldout_tasks>.<method>.<h>.<metric>`
lists aligned with `points`, plus `OUT_DIR/metrics.md`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mu0.bundle.read import read_record

METRICS = ("ade_uv", "ade_uv_ci95", "ade_xyz", "fde_uv", "minade_uv")
METHODS = ("mu0", "retrieval", "static", "constant_velocity")  # retrieval: its bank grows with the subset too
HORIZONS = ("16", "32")


def _episodes(report_path: Path, report: dict) -> int:
    """What the run really trained on (a limit of 0, or above the train split, means all of it)."""
    return len(read_record(Path(report["models"]["mu0"]))["splits"]["train"])


def merge(report_paths: list[Path]) -> dict:
    runs = sorted(((p, json.loads(p.read_text())) for p in report_paths), key=lambda r: _episodes(*r))
    if not runs:
        raise ValueError("no metrics_<N>.json reports to merge")
    splits = {(r["split"], r["episodes"]) for _, r in runs}
    if len(splits) > 1:
        raise ValueError(f"the reports score different test sets {sorted(splits)}; a curve needs one")
    points = [_episodes(p, r) for p, r in runs]
    if len(set(points)) < len(points):
        raise ValueError(f"two reports trained on as many episodes ({points}): one point each")
    out: dict = {"points": points, "split": runs[0][1]["split"],
                 "test_episodes": runs[0][1]["episodes"], "truth": runs[0][1]["truth"], "protocols": {}}
    for pname in runs[0][1]["protocols"]:
        views = {"seen": lambda proto: proto["methods"],
                 "heldout_tasks": lambda proto: proto.get("heldout_tasks", {}).get("methods")}
        for view, pick in views.items():
            tables = [pick(r["protocols"][pname]) for _, r in runs]
            if any(t is None for t in tables):
                continue
            out["protocols"].setdefault(pname, {})[view] = {
                m: {h: {k: [t[m][h][k] for t in tables] for k in METRICS if k in tables[0][m][h]}
                    for h in HORIZONS if h in tables[0].get(m, {})}
                for m in METHODS if all(m in t for t in tables)}
    return out


def markdown(curve: dict) -> str:
    lines = [f"# μ_0 against the number of pretraining episodes ({curve['split']} split, "
             f"{curve['test_episodes']} episodes, truth: {curve['truth']})", "",
             "uv ADE at h = 32 (95% interval); the kinematic baselines need no training, so they are the same "
             "in every row.", ""]
    for pname, views in curve["protocols"].items():
        for view, methods in views.items():
            lines += [f"## {pname}, {view.replace('_', ' ')}", "", "| episodes | " + " | ".join(methods) + " |",
                      "|---|" + "---|" * len(methods)]
            for i, n in enumerate(curve["points"]):
                cells = []
                for m in methods:
                    h = methods[m].get("32")
                    if h is None:
                        cells.append("–")
                        continue
                    ci = h.get("ade_uv_ci95", [None] * len(curve["points"]))[i]
                    cells.append(f"{h['ade_uv'][i]:.4f}" + (f" [{ci[0]:.4f}, {ci[1]:.4f}]" if ci else ""))
                lines.append(f"| {n} | " + " | ".join(cells) + " |")
            lines.append("")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    from mu0.episodes.atomic import write_bytes_atomic, write_json_atomic

    out_dir, reports = Path(argv[0]), [Path(p) for p in argv[1:]]
    curve = merge(reports)
    write_json_atomic(out_dir / "metrics.json", curve)
    write_bytes_atomic(out_dir / "metrics.md", markdown(curve).encode())
    print(markdown(curve))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
