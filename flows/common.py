"""What every flow shares: a failed stage, retrying only on I/O, reports as markdown artifacts,
and the task runner (threads locally, Dask when a cluster address is configured)."""

from __future__ import annotations

import os
from pathlib import Path

from prefect.artifacts import create_markdown_artifact

IO_ERRORS: tuple[type[BaseException], ...] = (OSError, ConnectionError, TimeoutError)


class StageFailed(RuntimeError):
    """A mu0 stage ran but failed its own check (a failed gate, nothing usable); the message says which."""


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
