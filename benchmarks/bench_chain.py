"""What Prefect adds to the chain: the debug chain (ingest → extract → validate → pretrain → finetune →
evaluate → register → promote, for μ_0 and its policy) once as the same stage calls in one plain
process, once as the `mu0-pretrain` flow on an ephemeral Prefect server, each in a fresh working folder.
Prints both wall times and their ratio. Run: `.venv/bin/python benchmarks/bench_chain.py`; writes
benchmarks/results/chain.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DIRECT = """
import sys
from mu0.cli import main
from mu0.mlops.tracking import configure
configure()
out = "artifacts/chain/direct"
for args in (["ingest", "--preset", "debug", "metaworld"], ["extract", "--preset", "debug"],
             ["validate", "--preset", "debug"], ["pretrain", "--preset", "debug", "--out", out + "/mu0"],
             ["finetune", "--preset", "debug", "--out", out + "/policy-trace", "--world-model", out + "/mu0/model"],
             ["evaluate", "traces", "--preset", "debug", "--model", out + "/mu0/model", "--baselines", "--champion",
              "--samples", "3"],
             ["evaluate", "policy", "--preset", "debug", "--champion", "--policies",
              "trace=" + out + "/policy-trace/model"],
             ["register", "--model", out + "/mu0/model"], ["promote"],
             ["register", "--target", "policy", "--model", out + "/policy-trace/model"],
             ["promote", "--model", "mu0-policy-metaworld"]):
    code = main(args)
    if code != 0:
        sys.exit(f"mu0 {' '.join(args)} exited with {code}")
"""
FLOW = "from flows.chain import pretrain_chain\npretrain_chain(preset='debug')\n"


def timed(code: str, folder: Path) -> float:
    subprocess.run(["git", "clone", "-q", str(REPO), str(folder)], check=True)
    env = {**os.environ, "PREFECT_HOME": str(folder / ".prefect"), "MU0_DVC_LOCAL_REMOTE": str(folder / "remote"),
           "MUJOCO_GL": "egl", "PYOPENGL_PLATFORM": "egl", "MLFLOW_DISABLE_TELEMETRY": "true"}
    env.pop("PREFECT_API_URL", None)
    env.pop("MLFLOW_TRACKING_URI", None)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=folder, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        direct = timed(DIRECT, Path(tmp) / "direct")
        flow = timed(FLOW, Path(tmp) / "flow")
    out = {"direct_s": direct, "prefect_s": flow, "ratio_prefect_over_direct": flow / direct}
    print(f"debug chain: direct stage calls {direct:.1f} s, Prefect flow {flow:.1f} s "
          f"(ephemeral server included): ratio {flow / direct:.2f}x")
    path = Path(__file__).parent / "results" / "chain.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
