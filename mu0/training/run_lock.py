"""One training run per output folder: a second run into a folder that a live run is writing is refused with
the holder's pid, host and start time, instead of both resuming from each other's checkpoints.

The lock is an OS file lock (filelock), so a run that dies releases it with its process: a lock file left
behind by a dead run is stale and the next run takes it over (saying so). In a multi-process run rank 0 holds
it for all ranks, and every rank refuses together.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from mu0.training.errors import RunRefused
from mu0.training.ranks import any_rank, is_main

log = logging.getLogger(__name__)

LOCK_FILE = ".mu0-run.lock"  # the OS lock
HOLDER_FILE = ".mu0-run.holder.json"  # who holds it (pid, host, start), for the refusal message


class FolderBusyError(RunRefused):
    """Another live run writes to this output folder."""


def _holder(out_dir: Path) -> str:
    try:
        h = json.loads((out_dir / HOLDER_FILE).read_text())
        return f"pid {h['pid']} on {h['host']}, started {h['started']}"
    except (OSError, ValueError, KeyError):
        return "a process that left no holder record"


@contextlib.contextmanager
def one_writer(out_dir: Path) -> Iterator[None]:
    """Hold `out_dir` for this run (rank 0 takes the lock; every rank calls this after the process group is up)."""
    out_dir = Path(out_dir)
    lock, busy = None, ""
    if is_main():
        out_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(out_dir / LOCK_FILE, timeout=0)
        try:
            lock.acquire()
        except Timeout:
            busy, lock = _holder(out_dir), None
    if any_rank(bool(busy)):
        raise FolderBusyError(f"{out_dir}: another training run is writing here ({busy or 'see rank 0'}); wait for "
                              "it to finish or pass another --out")
    try:
        if lock is not None:
            if (out_dir / HOLDER_FILE).exists():
                log.info("%s: took over a stale lock (%s is gone)", out_dir, _holder(out_dir))
            (out_dir / HOLDER_FILE).write_text(json.dumps({
                "pid": os.getpid(), "host": socket.gethostname(),
                "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")}))
        yield
    finally:
        if lock is not None:
            (out_dir / HOLDER_FILE).unlink(missing_ok=True)
            lock.release()
