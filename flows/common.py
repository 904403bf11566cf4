"""What every flow shares: a failed stage, retrying only on I/O, reports as markdown artifacts,
and the task runner of mapped stages (threads locally, Dask when a cluster is asked for)."""

from __future__ import annotations

from pathlib import Path

from prefect.artifacts import create_markdown_artifact

from mu0.parallel import dask_address, local_cluster_kwargs

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


def task_runner(address: str = "", workers: int = 2):
    """The task runner of a mapped stage, chosen when the flow runs (never at import): Prefect's Dask runner on
    the scheduler at `address` (else MU0_DASK_ADDRESS), on a temporary local cluster of `workers` processes for
    "local", else a local thread pool."""
    address = address or dask_address()
    if not address:
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=workers)
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError:
        raise RuntimeError(f"a Dask cluster was asked for ({address}) but prefect-dask is not installed: "
                           "pip install -e '.[dask]' (make install does)") from None
    if address == "local":
        return DaskTaskRunner(cluster_kwargs=local_cluster_kwargs(workers))
    return DaskTaskRunner(address=address)
