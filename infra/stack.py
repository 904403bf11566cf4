"""The local stack on 127.0.0.1: a moto S3 server, an MLflow server (SQLite store, artifacts in S3), a
Prefect server and a process worker on the `mu0-process` pool.

    infra/stack up [--ports auto]   start what is not running, wait until each is healthy
    infra/stack status              what runs, and whether it answers
    infra/stack deploy              `prefect deploy --all` from prefect.yaml against this stack
    infra/stack down                stop exactly what `up` started (process groups, by recorded pid)

State lives in .stack/ (pids, ports, logs, the SQLite stores); `.stack/env` holds the exports a shell
needs to use the stack (`source .stack/env`). No credentials are written anywhere: moto accepts any, so
when AWS_ACCESS_KEY_ID is unset the stack gives its children moto's dummy ones in their environment.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from a checkout: the settings come from its mu0
from mu0.settings import NO_TELEMETRY  # noqa: E402

STATE = Path(os.environ.get("MU0_STACK_DIR", REPO / ".stack"))
BIN = Path(sys.executable).parent
DEFAULT_PORTS = {"s3": 5300, "mlflow": 5000, "prefect": 4200}
POOL, BUCKET = "mu0-process", "mu0"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ports(mode: str) -> dict[str, int]:
    saved = STATE / "ports.json"
    if saved.exists():
        return json.loads(saved.read_text())
    ports = {k: _free_port() for k in DEFAULT_PORTS} if mode == "auto" else dict(DEFAULT_PORTS)
    STATE.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps(ports))
    return ports


def stack_env(ports: dict[str, int]) -> dict[str, str]:
    """What a client of the stack needs (no secrets)."""
    s3 = f"http://127.0.0.1:{ports['s3']}"
    return {"PREFECT_API_URL": f"http://127.0.0.1:{ports['prefect']}/api",
            "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{ports['mlflow']}",
            "MLFLOW_S3_ENDPOINT_URL": s3, "MU0_S3_ENDPOINT_URL": s3, "MU0_S3_BUCKET": BUCKET,
            "MU0_DVC_REMOTE": "s3", **NO_TELEMETRY,
            "MUJOCO_GL": "egl", "PYOPENGL_PLATFORM": "egl"}


def _child_env(ports: dict[str, int]) -> dict[str, str]:
    env = {**os.environ, **stack_env(ports), "PREFECT_HOME": str(STATE / "prefect"),
           "MU0_REPO_DIR": str(REPO)}
    env.setdefault("AWS_ACCESS_KEY_ID", "testing")  # moto's dummies, only in the children's environment
    env.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    # MLflow's GenAI job runner (huey consumers for scorers) is not used here; started, each server leaves its
    # job store in a /dev/shm/tmp* folder that nothing removes (MLflow 3.17)
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    return env


def _services(ports: dict[str, int]) -> dict[str, tuple[list[str], str]]:
    """name → (command, health URL); started in this order."""
    exe = lambda name: str(BIN / name) if (BIN / name).exists() else shutil.which(name) or name  # noqa: E731
    return {
        "s3": ([exe("moto_server"), "-H", "127.0.0.1", "-p", str(ports["s3"])],
               f"http://127.0.0.1:{ports['s3']}/moto-api/"),
        "mlflow": ([exe("mlflow"), "server", "--host", "127.0.0.1", "--port", str(ports["mlflow"]),
                    "--backend-store-uri", f"sqlite:///{STATE / 'mlflow.db'}",
                    "--artifacts-destination", f"s3://{BUCKET}/mlflow", "--workers", "1"],
                   f"http://127.0.0.1:{ports['mlflow']}/health"),
        "prefect": ([exe("prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(ports["prefect"])],
                    f"http://127.0.0.1:{ports['prefect']}/api/health"),
        "worker": ([exe("prefect"), "worker", "start", "--pool", POOL, "--type", "process"], ""),
    }


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _pid(name: str) -> int | None:
    path = STATE / f"{name}.pid"
    return int(path.read_text()) if path.exists() else None


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status < 500
    except OSError:
        return False


def _wait(name: str, url: str, pid: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            raise SystemExit(f"{name} exited at start-up; see {STATE / (name + '.log')}")
        if not url or _healthy(url):
            return
        time.sleep(0.5)
    raise SystemExit(f"{name} not healthy after {timeout:.0f} s at {url}; see {STATE / (name + '.log')}")


def _bootstrap(name: str, env: dict[str, str]) -> None:
    """After a service is healthy: the S3 bucket, the work pool."""
    if name == "s3":
        import boto3

        s3 = boto3.client("s3", endpoint_url=env["MU0_S3_ENDPOINT_URL"], region_name=env["AWS_DEFAULT_REGION"],
                          aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
        if BUCKET not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
            s3.create_bucket(Bucket=BUCKET)
    if name == "prefect":
        subprocess.run([str(BIN / "prefect"), "work-pool", "create", POOL, "--type", "process", "--overwrite"],
                       env=env, check=True, capture_output=True)


def up(mode: str) -> None:
    ports = _ports(mode)
    env = _child_env(ports)
    for name, (cmd, url) in _services(ports).items():
        pid = _pid(name)
        if pid and _alive(pid):
            _bootstrap(name, env)
            print(f"{name:8s} already running (pid {pid})")
            continue
        log = open(STATE / f"{name}.log", "ab")  # noqa: SIM115 (the child keeps it)
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        (STATE / f"{name}.pid").write_text(str(proc.pid))
        _wait(name, url, proc.pid)
        _bootstrap(name, env)
        print(f"{name:8s} up (pid {proc.pid}) {url}")
    (STATE / "env").write_text("".join(f"export {k}={v}\n" for k, v in stack_env(ports).items()))
    print(f"use it: source {STATE / 'env'}   ·   Prefect UI http://127.0.0.1:{ports['prefect']}   ·   "
          f"MLflow UI http://127.0.0.1:{ports['mlflow']}")


def down() -> None:
    for name in ("worker", "prefect", "mlflow", "s3"):
        pid = _pid(name)
        if pid is None:
            continue
        if _alive(pid):
            try:
                os.killpg(pid, signal.SIGTERM)  # the whole group: servers spawn workers of their own
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + 20
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass
            if _alive(pid):
                os.killpg(pid, signal.SIGKILL)
        (STATE / f"{name}.pid").unlink(missing_ok=True)
        print(f"{name:8s} stopped (pid {pid})")
    (STATE / "ports.json").unlink(missing_ok=True)


def status() -> int:
    ports = _ports("fixed") if (STATE / "ports.json").exists() else None
    bad = 0
    for name in ("s3", "mlflow", "prefect", "worker"):
        pid = _pid(name)
        url = _services(ports)[name][1] if ports else ""
        running = bool(pid and _alive(pid))
        health = "" if not url else (" healthy" if _healthy(url) else " NOT answering")
        print(f"{name:8s} " + (f"running (pid {pid}){health}" if running else "stopped"))
        bad += not running
    return 1 if bad else 0


def deploy() -> None:
    ports = _ports("fixed")
    env = _child_env(ports)
    subprocess.run([str(BIN / "prefect"), "--no-prompt", "deploy", "--all"], cwd=REPO, env=env, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "down", "status", "deploy"])
    parser.add_argument("--ports", choices=["fixed", "auto"], default="fixed",
                        help="fixed: 5300 (S3), 5000 (MLflow), 4200 (Prefect); auto: free ports")
    args = parser.parse_args()
    STATE.mkdir(parents=True, exist_ok=True)
    if args.command == "up":
        up(args.ports)
    elif args.command == "down":
        down()
    elif args.command == "deploy":
        deploy()
    else:
        return status()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
