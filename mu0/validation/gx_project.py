"""mu0's Great Expectations project: a file-backed context per gate run, holding the tables the gate checked
(parquet), one suite and one ValidationDefinition per table, and the Checkpoint `mu0-gate` that runs them all and
updates the Data Docs. It lies beside the gate's JSON report (`docs_dir` is the one place that says where):

    <report folder>/validation_docs/index.html   the Data Docs site
    <report folder>/validation_docs/gx/          the GX project: great_expectations.yml, expectations/,
                                                 validation_definitions/, checkpoints/, tables/, uncommitted/

The folder is built beside its target and renamed into place, so a reader sees the last run's docs or this
run's, never a mix. How to re-run a definition by name: docs/architecture.md, "Validation".
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from mu0.episodes.atomic import publish_dir, write_bytes_atomic

DOCS_DIR = "validation_docs"
PROJECT_DIR = "gx"
TABLES_DIR = "tables"
SOURCE = "mu0"  # the pandas filesystem data source over tables/
SITE = "mu0"  # the Data Docs site
CHECKPOINT = "mu0-gate"
# Its own name: GX swaps a store named like its default for the default unless the class name is GX's own.
RESULTS_STORE = "mu0_validation_results_store"
# Every failing row's index, so the gate can name the episodes; no pandas query strings in the results.
RESULT_FORMAT = {"result_format": "COMPLETE", "return_unexpected_index_query": False}


def docs_dir(report: Path) -> Path:
    """The Data Docs folder of the gate whose JSON report is `report` (beside it: per-run report folders each
    get their own)."""
    return Path(report).parent / DOCS_DIR


def project_dir(docs: Path) -> Path:
    return Path(docs) / PROJECT_DIR


def definition_name(table: str) -> str:
    """The name of a table's suite and of its ValidationDefinition."""
    return f"mu0-{table}"


def _backend(base: str, **extra) -> dict:
    return {"class_name": "TupleFilesystemStoreBackend", "base_directory": base, **extra}


def project_config() -> dict:
    """great_expectations.yml: GX's usual stores, usage statistics and progress bars off, a results store that
    writes numpy values, and one local Data Docs site in the folder above the project."""
    results = {"class_name": "PlainJsonValidationResultsStore", "module_name": "mu0.validation.gx_store",
               "store_backend": _backend("uncommitted/validations/")}
    site = {"class_name": "SiteBuilder", "show_how_to_buttons": False, "store_backend": _backend("../"),
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"}}
    return {
        "config_version": 4,
        "analytics_enabled": False,
        "progress_bars": {"globally": False},
        "stores": {
            "expectations_store": {"class_name": "ExpectationsStore", "store_backend": _backend("expectations/")},
            RESULTS_STORE: results,
            "checkpoint_store": {"class_name": "CheckpointStore",
                                 "store_backend": _backend("checkpoints/", suppress_store_backend_id=True)},
            "validation_definition_store": {"class_name": "ValidationDefinitionStore",
                                            "store_backend": _backend("validation_definitions/")},
        },
        "expectations_store_name": "expectations_store",
        "validation_results_store_name": RESULTS_STORE,
        "checkpoint_store_name": "checkpoint_store",
        "data_docs_sites": {SITE: site},
    }


def _new_context(root: Path):
    import os

    import great_expectations as gx
    import yaml

    from mu0.settings import NO_TELEMETRY

    os.environ.setdefault("GX_ANALYTICS_ENABLED", NO_TELEMETRY["GX_ANALYTICS_ENABLED"])
    write_bytes_atomic(root / "great_expectations.yml", yaml.safe_dump(project_config(), sort_keys=False).encode())
    return gx.get_context(mode="file", context_root_dir=root)


def _definition(context, source, table: str, frame: pd.DataFrame, expectations: list):
    import great_expectations as gx

    frame.to_parquet(Path(source.base_directory) / f"{table}.parquet")
    batch = source.add_parquet_asset(table).add_batch_definition_path(table, path=f"{table}.parquet")
    suite = context.suites.add(gx.ExpectationSuite(name=definition_name(table), expectations=expectations))
    return context.validation_definitions.add(gx.ValidationDefinition(name=definition_name(table), data=batch,
                                                                      suite=suite))


def _checkpoint(context, tables: dict[str, tuple[pd.DataFrame, list]], docs: bool):
    import great_expectations as gx

    folder = Path(context.root_directory) / TABLES_DIR
    folder.mkdir()
    source = context.data_sources.add_pandas_filesystem(SOURCE, base_directory=folder)
    definitions = [_definition(context, source, table, frame, expectations)
                   for table, (frame, expectations) in tables.items()]
    actions = [gx.checkpoint.UpdateDataDocsAction(name="update_data_docs", site_names=[SITE])] if docs else []
    return context.checkpoints.add(gx.Checkpoint(name=CHECKPOINT, validation_definitions=definitions,
                                                 actions=actions, result_format=RESULT_FORMAT))


def _read_tables_from(context, folder: Path) -> None:
    """The data source names its folder absolutely; after the rename the tables live under the published one."""
    source = context.data_sources.get(SOURCE)
    source.base_directory = folder
    context.update_datasource(source)


def run_checkpoint(tables: dict[str, tuple[pd.DataFrame, list]], docs: Path | None) -> dict[str, object]:
    """Validate each table (its frame, its expectations) in one run of the Checkpoint, whose Data Docs land in
    `docs`. With no `docs` the project is thrown away and the Checkpoint builds no Data Docs (it costs seconds).
    Returns each table's ExpectationSuiteValidationResult."""
    if docs is not None:
        docs.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{DOCS_DIR}.", dir=docs.parent if docs else None) as tmp:
        site = Path(tmp) / DOCS_DIR
        context = _new_context(project_dir(site))
        outcome = _checkpoint(context, tables, docs is not None).run()
        if docs is not None:
            _read_tables_from(context, project_dir(docs).resolve() / TABLES_DIR)
            publish_dir(site, docs, docs.parent)
    by_suite = {r.suite_name: r for r in outcome.run_results.values()}
    return {table: by_suite[definition_name(table)] for table in tables}
