"""Great Expectations plumbing: tables and their checks are collected, validated together by mu0's GX
project (gx_project.py: a Checkpoint over persisted ValidationDefinitions, with Data Docs), and the results
boiled down to plain dicts (which rows failed, for which episodes)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pandas as pd

SAMPLE_ROWS = 5
ID_COLUMNS = ("episode_id", "frame")  # what names a failing row in a report, where a table has them


@dataclasses.dataclass(frozen=True)
class Check:
    name: str  # stable id, e.g. "raw.K_valid"
    table: str  # which table it runs on
    make: Callable[[], object]  # builds the gx expectation
    critical: bool  # fails the run (True) or quarantines the episodes it names (False)
    description: str


@dataclasses.dataclass
class CheckResult:
    name: str
    table: str
    critical: bool
    description: str
    success: bool
    element_count: int
    unexpected_count: int
    episodes: list[str]
    sample_rows: list[dict]
    observed: object = None


class GxRunner:
    """`add` each table with its checks, then `run` validates them all at once; Data Docs go to `docs`."""

    def __init__(self, docs: Path | None = None) -> None:
        self.docs = docs
        self._tables: dict[str, tuple[pd.DataFrame, list[Check]]] = {}

    def add(self, table: str, df: pd.DataFrame, checks: list[Check]) -> None:
        self._tables[table] = (df, checks)

    def run(self) -> list[CheckResult]:
        if not self._tables:
            return []
        from mu0.validation.gx_project import run_checkpoint

        tables = {t: (df, [_expectation(c) for c in checks]) for t, (df, checks) in self._tables.items()}
        suites = run_checkpoint(tables, self.docs)
        return [_result(check, r, df) for table, (df, checks) in self._tables.items()
                for check, r in zip(checks, suites[table].results, strict=True)]


def _expectation(check: Check):
    """The check's expectation, with notes that Data Docs show beside it: mu0's name for it, its severity."""
    expectation = check.make()
    severity = "critical: fails the run" if check.critical else "quarantines the episodes it names"
    expectation.notes = [f"mu0 check `{check.name}` ({severity}): {check.description}.",
                         f"GX expectation `{expectation.expectation_type}`."]
    return expectation


def _failing_rows(r, df: pd.DataFrame, index: list) -> list[dict]:
    """The first failing rows as {checked column: value, episode_id, frame} (GX gives their index labels)."""
    ids = [c for c in ID_COLUMNS if c in df.columns]
    column = r.expectation_config.kwargs.get("column")
    if not ids or column is None:
        return []
    return [{c: df.at[i, c] for c in (column, *ids)} for i in index[:SAMPLE_ROWS]]


def _result(check: Check, r, df: pd.DataFrame) -> CheckResult:
    res = r.result or {}
    index = res.get("unexpected_index_list") or []
    rows = _failing_rows(r, df, index)
    episodes = sorted({str(e) for e in df.loc[index, "episode_id"]}) if rows and "episode_id" in df.columns else []
    if not rows and "unexpected_list" in res:
        rows = [{"value": v} for v in res["unexpected_list"][:SAMPLE_ROWS]]
    return CheckResult(check.name, check.table, check.critical, check.description, bool(r.success),
                       int(res.get("element_count", len(df))), int(res.get("unexpected_count", 0) or 0), episodes,
                       _plain(rows), _plain(res.get("observed_value")))


def _plain(value):
    """numpy scalars and containers → JSON-ready Python values."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
