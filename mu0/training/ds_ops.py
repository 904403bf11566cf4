"""DeepSpeed's CPU communication op: built once per environment, never stuck behind a dead build, and its
shared memory given back when the run ends.

DeepSpeed JIT-compiles a shared-memory op the first time a process group starts on CPU. torch guards
the build with a bare `lock` file; a process killed mid-build (a timeout, a Ctrl-C) leaves it behind
and every later run waits on it forever. We build under an flock, which the kernel releases when its
holder dies, so whoever holds it knows any leftover `lock` file is stale.

With every rank on one machine, the op's all-reduce maps one named POSIX shared-memory buffer per rank
(`/dev/shm/deepspeed_allreduce_buffer_{uid}_{MASTER_ADDR}_{MASTER_PORT}_{rank}`, 69 MB) and never unlinks it:
each multi-rank run on CPU left its buffers in RAM until a reboot (20 GB on this machine after a day of test runs,
until a run failed for memory). Once every rank has mapped every other rank's buffer the names serve nothing: each
rank unlinks its own, and the memory returns when the last rank that maps it exits, however it exits.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from filelock import FileLock

SHM_DIR = Path("/dev/shm")
SHM_BUFFER = "deepspeed_allreduce_buffer"  # DeepSpeed's name prefix (ops/csrc/cpu/comm/shm.cpp)
TORCH_BATON = "lock"  # the file torch.utils.file_baton creates inside each extension's build folder
BUILD_LOCK = "mu0-build.lock"


def extensions_dir() -> Path:
    """One folder per Python environment: checkouts with different venvs would otherwise rebuild in turn."""
    env_key = hashlib.sha1(sys.prefix.encode()).hexdigest()[:12]
    return Path.home() / ".cache" / "mu0" / "torch_extensions" / env_key


def build_cpu_comm_op() -> None:
    """Compile (or load) the op now, under our lock; DeepSpeed's own load then finds it in its cache."""
    import deepspeed.ops
    from deepspeed.accelerator import get_accelerator

    builder = get_accelerator().create_op_builder("ShareMemCommBuilder")
    if builder is None or not deepspeed.ops.__compatible_ops__.get(builder.NAME, False):
        return  # DeepSpeed will not load it on this accelerator either
    root = Path(os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(extensions_dir())))
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(root / BUILD_LOCK):
        (root / builder.name / TORCH_BATON).unlink(missing_ok=True)  # only this op's: the folder may be shared
        builder.load(verbose=False)


def allreduce_buffer_name(uid: int, addr: str, port: str, rank: int) -> str:
    """The name DeepSpeed's CPU all-reduce gives one rank's shared-memory buffer."""
    return f"{SHM_BUFFER}_{uid}_{addr}_{port}_{rank}"


def unlink_allreduce_buffer() -> None:
    """After the process group started: wait until every rank has mapped every other's buffer (DeepSpeed opens
    them all while it starts the group), then unlink this rank's name (see the module's docstring)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return
    if dist.get_world_size() > 1:
        dist.barrier()
    name = allreduce_buffer_name(os.getuid(), os.environ.get("MASTER_ADDR", ""), os.environ.get("MASTER_PORT", ""),
                                 dist.get_rank())
    (SHM_DIR / name).unlink(missing_ok=True)
