"""Run independent per-item work in a process pool (or inline for one worker), or on a Dask cluster, reporting as
items finish.

Workers are spawned, not forked: each starts clean (its own GL context for rendering, no inherited
threads), which is what MuJoCo and OpenCV want. The same per-item function is what a Prefect task
maps over; this is the single-machine equivalent. With MU0_DASK_ADDRESS set when the work starts (a scheduler
address, or "local" for a temporary cluster of `workers` processes on this machine) the items run on that
`distributed` cluster instead; the results are the same.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

DASK_ADDRESS_ENV = "MU0_DASK_ADDRESS"


def local_cluster_kwargs(workers: int) -> dict:
    """A local Dask cluster of worker processes (one thread each), listening on 127.0.0.1 only, no dashboard."""
    return {"n_workers": workers, "threads_per_worker": 1, "processes": True, "host": "127.0.0.1",
            "dashboard_address": None}


def dask_address() -> str:
    return os.environ.get(DASK_ADDRESS_ENV, "")


def map_unordered(fn: Callable[[Item], Result], items: Sequence[Item], workers: int) -> Iterator[tuple[Item, Result]]:
    """(item, fn(item)) pairs in completion order; `fn` and the items must be picklable when workers > 1 or on Dask."""
    if dask_address() and len(items) > 1:
        yield from _on_dask(fn, items, workers, dask_address())
        return
    if workers <= 1 or len(items) <= 1:
        for item in items:
            yield item, fn(item)
        return
    context = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=min(workers, len(items)), mp_context=context) as pool:
        futures = {pool.submit(fn, item): item for item in items}
        for future in cf.as_completed(futures):
            yield futures[future], future.result()


def _on_dask(fn, items, workers: int, address: str):
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise RuntimeError(f"{DASK_ADDRESS_ENV}={address} asks for a Dask cluster, but `distributed` is not "
                           "installed: pip install -e '.[dask]' (make install does)") from None
    cluster = LocalCluster(**local_cluster_kwargs(workers)) if address == "local" else None
    try:
        with Client(cluster if cluster is not None else address) as client:
            futures = [client.submit(fn, item, pure=False) for item in items]
            item_of = {f.key: item for f, item in zip(futures, items, strict=True)}
            for future in as_completed(futures):
                yield item_of[future.key], future.result()
    finally:
        if cluster is not None:
            cluster.close()
