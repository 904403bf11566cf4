"""What Prefect adds to the chain: the debug chain (ingest → extract → validate → pretrain → finetune →
evaluate → register → promote, for μ_0 and its policy) as the same stage functions called in one plain
process, as the `mu0-pretrain` flow against a Prefect server that is already running (the deployment's case:
the server outlives the runs), and as the flow on an ephemeral server that the run starts itself (`make demo`'s
case); each in a fresh clone. Prints the wall times, the server's own start-up, and the ratios.
Run: `.venv/bin/python benchmarks/bench_chain.py`; writes benchmarks/results/chain.json.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from mu0.settings import NO_TELEMETRY

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


def _env(home: Path, api_url: str | None = None) -> dict[str, str]:
    env = {**os.environ, **NO_TELEMETRY, "PREFECT_HOME": str(home / ".prefect"),
           "MU0_DVC_LOCAL_REMOTE": str(home / "remote"), "MUJOCO_GL": "egl", "PYOPENGL_PLATFORM": "egl"}
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("PREFECT_API_URL", None)
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


def timed(code: str, folder: Path, api_url: str | None = None) -> float:
    subprocess.run(["git", "clone", "-q", str(REPO), str(folder)], check=True)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=folder, env=_env(folder, api_url), check=True,
                   capture_output=True)
    return time.perf_counter() - start


@contextmanager
def prefect_server(home: Path):
    """A real `prefect server start` on 127.0.0.1; yields (API URL, seconds until it answered), stops it after."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    home.mkdir(parents=True)
    prefect = Path(sys.executable).parent / "prefect"
    start = time.perf_counter()
    with open(home / "server.log", "w") as log:
        proc = subprocess.Popen([str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                                env=_env(home), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/api"
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"prefect server exited with {proc.returncode}; see {home / 'server.log'}")
            if time.perf_counter() - start > 120:
                raise SystemExit(f"prefect server not healthy after 120 s at {url}; see {home / 'server.log'}")
            try:
                urllib.request.urlopen(f"{url}/health", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        yield url, time.perf_counter() - start
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(30)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        direct = timed(DIRECT, Path(tmp) / "direct")
        with prefect_server(Path(tmp) / "server") as (url, server_start):
            served = timed(FLOW, Path(tmp) / "served", url)
        ephemeral = timed(FLOW, Path(tmp) / "ephemeral")
    out = {"direct_s": direct, "prefect_s": ephemeral, "ratio_prefect_over_direct": ephemeral / direct,
           "prefect_running_server_s": served, "ratio_running_server_over_direct": served / direct,
           "server_start_s": server_start}
    print(f"debug chain: direct stage calls {direct:.1f} s; Prefect flow against a running server {served:.1f} s "
          f"(ratio {served / direct:.2f}x; the server took {server_start:.1f} s to start); on an ephemeral "
          f"server {ephemeral:.1f} s (ratio {ephemeral / direct:.2f}x)")
    path = Path(__file__).parent / "results" / "chain.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
