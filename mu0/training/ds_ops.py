"""DeepSpeed's CPU communication op: built once per environment, never stuck behind a dead build.

DeepSpeed JIT-compiles a shared-memory op the first time a process group starts on CPU. torch guards
the build with a bare `lock` file; a process killed mid-build (a timeout, a Ctrl-C) leaves it behind
and every later run waits on it forever. We build under an flock, which the kernel releases when its
holder dies, so whoever holds it knows any leftover `lock` file is stale.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from filelock import FileLock

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
