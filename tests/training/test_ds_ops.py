"""DeepSpeed's CPU op build survives a build that was killed half-way (its lock file left behind)."""

from __future__ import annotations

import os
import subprocess
import sys

from mu0.training.ds_ops import TORCH_BATON, extensions_dir


def test_a_lock_left_by_a_killed_build_does_not_block_the_next_run():
    build = extensions_dir() / "deepspeed_shm_comm"
    build.mkdir(parents=True, exist_ok=True)
    (build / TORCH_BATON).touch()  # what a process killed while compiling leaves behind
    env = {k: v for k, v in os.environ.items() if k != "TORCH_EXTENSIONS_DIR"}
    done = subprocess.run([sys.executable, "-c", "from mu0.training.ds_ops import build_cpu_comm_op as b; b()"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not (build / TORCH_BATON).exists()
