"""Great Expectations plumbing: one ephemeral context, a pandas data source, suites built in code,
and results boiled down to plain dicts (which rows failed, for which episodes)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

import pandas as pd

SAMPLE_ROWS = 5


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
    def __init__(self) -> None:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self._gx = gx
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self.source = self.context.data_sources.add_pandas("mu0")
        self._batches: dict[str, object] = {}

    def _batch_definition(self, table: str):
        if table not in self._batches:
            asset = self.source.add_dataframe_asset(name=table)
            self._batches[table] = asset.add_batch_definition_whole_dataframe(f"{table}-all")
        return self._batches[table]

    def run(self, table: str, df: pd.DataFrame, checks: list[Check]) -> list[CheckResult]:
        gx = self._gx
        suite = gx.ExpectationSuite(name=f"mu0-{table}")
        for check in checks:
            suite.add_expectation(check.make())
        suite = self.context.suites.add_or_update(suite)
        batch = self._batch_definition(table).get_batch(batch_parameters={"dataframe": df})
        ids = [c for c in ("episode_id", "frame") if c in df.columns]
        fmt = {"result_format": "COMPLETE", "unexpected_index_column_names": ids,
               "return_unexpected_index_query": False}
        result = batch.validate(suite, result_format=fmt)
        return [_result(check, r, df) for check, r in zip(checks, result.results, strict=True)]


def _result(check: Check, r, df: pd.DataFrame) -> CheckResult:
    res = r.result or {}
    index = res.get("unexpected_index_list") or []
    episodes = sorted({str(i["episode_id"]) for i in index if isinstance(i, dict) and "episode_id" in i})
    rows = [i for i in index if isinstance(i, dict)][:SAMPLE_ROWS]
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
