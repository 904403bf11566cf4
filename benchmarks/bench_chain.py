"""What Prefect adds to the chain: the debug chain (ingest → extract → validate → pretrain → finetune →
evaluate → register → promote, for μ_0 and its policy) once as the same stage functions called in one
plain process, once as the `mu0-pretrain` flow on an ephemeral Prefect server, each in a fresh working folder.
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
import dataclasses as dc
from pathlib import Path
from mu0.mlops.tracking import configure
from mu0.presets import get_preset
from mu0.stages.evaluate_policy import EvaluatePolicyArgs, evaluate_policy_stage
from mu0.stages.evaluate_traces import EvaluateTracesArgs, evaluate_traces_stage
from mu0.stages.extract import ExtractArgs, extract_stage
from mu0.stages.finetune import FinetuneArgs, finetune_stage
from mu0.stages.ingest import ingest_args, ingest_stage
from mu0.stages.pretrain import PretrainArgs, pretrain_stage
from mu0.stages.promote import PromoteArgs, promote_stage
from mu0.stages.register import RegisterArgs, register_stage
from mu0.stages.validate import ValidateArgs, validate_stage
configure()
p, out = get_preset("debug"), Path("artifacts/chain/direct")
ingest_stage(ingest_args(p, "metaworld"))
extract_stage(ExtractArgs.from_preset(p))
assert validate_stage(ValidateArgs.from_preset(p)).success
world = pretrain_stage(dc.replace(PretrainArgs.from_preset(p), out=out / "mu0")).model_dir
policy = finetune_stage(dc.replace(FinetuneArgs.from_preset(p), out=out / "policy-trace",
                                   world_model=str(world))).model_dir
evaluate_traces_stage(dc.replace(EvaluateTracesArgs.from_preset(p), model=world, baselines=(), champion=True,
                                 samples=3))
evaluate_policy_stage(dc.replace(EvaluatePolicyArgs.from_preset(p), champion=True, policies=(f"trace={policy}",)))
register_stage(RegisterArgs(model=world))
promote_stage(PromoteArgs())
register_stage(RegisterArgs(target="policy", model=policy))
promote_stage(PromoteArgs(model="mu0-policy-metaworld"))
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
