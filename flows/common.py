"""What every flow shares: calling a mu0 stage, retrying only on I/O, reports as markdown artifacts,
and the task runner (threads locally, Dask when a cluster address is configured)."""

from __future__ import annotations

import os
from pathlib import Path

from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact

IO_ERRORS: tuple[type[BaseException], ...] = (OSError, ConnectionError, TimeoutError)


class StageFailed(RuntimeError):
    """A mu0 stage exited non-zero; the message names the stage and where its report is."""


def run_stage(*args: str) -> None:
    """One mu0 CLI stage in this process (the same code path as `dvc repro` and a terminal)."""
    from mu0.cli import main

    get_run_logger().info("mu0 %s", " ".join(args))
    try:
        code = main(list(args))
    except SystemExit as exc:  # a stage that exits on bad input is a failed task, not a crashed worker
        code = exc.code if isinstance(exc.code, int) else 1
    if code != 0:
        raise StageFailed(f"mu0 {' '.join(args)} exited with {code}")


def retry_on_io(task, task_run, state) -> bool:
    """Retry a task only when it failed on I/O (disk, network, S3); a logic error fails at once."""
    try:
        state.result()
    except IO_ERRORS:
        return True
    except Exception as exc:  # botocore's errors are not OSErrors; recognise them by module
        return type(exc).__module__.startswith(("botocore", "boto3", "urllib3", "requests"))
    return False


def publish_report(key: str, path: Path, description: str) -> None:
    """A report file as a markdown artifact in the Prefect UI (a note when the stage wrote none)."""
    text = path.read_text() if path.exists() else f"_{path} was not written._"
    create_markdown_artifact(key=key, markdown=text, description=description)


def task_runner(workers: int = 2):
    """Dask (prefect-dask) when MU0_DASK_ADDRESS names a scheduler, else a local thread pool."""
    address = os.environ.get("MU0_DASK_ADDRESS")
    if address:
        from prefect_dask import DaskTaskRunner  # optional: pip install 'mu0[dask]'

        return DaskTaskRunner(address=address)
    from prefect.task_runners import ThreadPoolTaskRunner

    return ThreadPoolTaskRunner(max_workers=workers)
