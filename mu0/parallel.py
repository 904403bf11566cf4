"""Run independent per-item work in a process pool (or inline for one worker), reporting as items finish.

Workers are spawned, not forked: each starts clean (its own GL context for rendering, no inherited
threads), which is what MuJoCo and OpenCV want. The same per-item function is what a Prefect task
maps over; this is the single-machine equivalent.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def map_unordered(fn: Callable[[Item], Result], items: Sequence[Item], workers: int) -> Iterator[tuple[Item, Result]]:
    """(item, fn(item)) pairs in completion order; `fn` and the items must be picklable when workers > 1."""
    if workers <= 1 or len(items) <= 1:
        for item in items:
            yield item, fn(item)
        return
    context = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=min(workers, len(items)), mp_context=context) as pool:
        futures = {pool.submit(fn, item): item for item in items}
        for future in cf.as_completed(futures):
            yield futures[future], future.result()
