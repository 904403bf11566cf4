"""The validation report: JSON for machines, markdown for people."""

from __future__ import annotations

import json
import os
from pathlib import Path

from mu0.episodes.atomic import write_bytes_atomic


def docs_link(md: Path, docs: Path) -> str:
    """The Data Docs index as a link relative to the markdown report (so a copied report folder keeps it)."""
    return Path(os.path.relpath(Path(docs) / "index.html", Path(md).parent)).as_posix()


def markdown(report: dict, docs: str | None = None) -> str:
    """The report for people; `docs` (see docs_link) adds a closing link to the run's Data Docs."""
    verdict = "PASSED" if report["success"] else "FAILED"
    lines = [f"# Data validation: {verdict}", "",
             f"{report['episodes']} episodes checked; {len(report['quarantined'])} quarantined; "
             f"{len(report['accepted_episodes'])} accepted.", ""]
    if report["critical_failures"]:
        lines += ["## Critical failures (the run stops here)", ""] + [f"- {c}" for c in report["critical_failures"]]
        lines.append("")
    failed = [c for c in report["checks"] if not c["success"]]
    lines += ["## Failed expectations", ""]
    if not failed:
        lines.append("None: every expectation passed.")
    for c in failed:
        lines += [f"### `{c['name']}` ({'critical' if c['critical'] else 'quarantines episodes'})", "",
                  f"{c['description']}. {c['unexpected_count']} of {c['element_count']} rows failed.", ""]
        if c["episodes"]:
            lines.append("Episodes: " + ", ".join(f"`{e}`" for e in c["episodes"][:20])
                         + (" …" if len(c["episodes"]) > 20 else ""))
        if c["sample_rows"]:
            lines += ["", "Sample rows:", "", "```", *[json.dumps(r, default=str) for r in c["sample_rows"]], "```"]
        if c.get("observed") is not None and not c["sample_rows"]:
            lines += ["", f"Observed: `{json.dumps(c['observed'], default=str)}`"]
        lines.append("")
    if report["quarantined"]:
        lines += ["## Quarantined episodes", ""]
        lines += [f"- `{e}`: {'; '.join(w)}" for e, w in report["quarantined"].items()]
    passed = sum(c["success"] for c in report["checks"])
    lines += ["", f"{passed} of {len(report['checks'])} expectations passed."]
    if docs:
        lines += ["", f"Data Docs (every expectation with its result, in a browser): [{docs}]({docs})"]
    return "\n".join(lines) + "\n"


def write(report: dict, path: Path) -> Path:
    from mu0.episodes.atomic import write_json_atomic

    write_json_atomic(path, report)
    md = path.with_suffix(".md")
    write_bytes_atomic(md, markdown(report).encode())
    return md
