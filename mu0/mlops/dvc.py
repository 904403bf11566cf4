"""Version `data/raw` with DVC: commit it into the cache through the top-level `data.dvc`, push it.

`data.dvc` tracks `data/raw` only (stage outputs elsewhere under data/ would collide with it).
The remote comes from settings and is written to `.dvc/config.local`, never to the committed
config: a folder outside the repository by default, S3 (endpoint and bucket from settings,
credentials from the AWS_* environment) for real use.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import subprocess
import sys
from pathlib import Path

import yaml

from mu0.settings import Mu0Settings

log = logging.getLogger(__name__)
DATA_DVC = "data.dvc"


class DvcError(RuntimeError):
    pass


def dvc_env() -> dict[str, str]:
    return {**os.environ, "DVC_NO_ANALYTICS": "1", "DVC_NO_UPDATER": "1"}


def run_dvc(repo: Path, *args: str) -> str:
    """Run the DVC CLI of this interpreter in `repo`; a failure raises DvcError with DVC's own message."""
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, env=dvc_env(), capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise DvcError(f"dvc {' '.join(args)} failed in {repo} (exit {proc.returncode}): "
                       f"{(proc.stderr or proc.stdout).strip()}")
    return proc.stdout


def find_dvc_root(path: Path) -> Path | None:
    """The nearest folder at or above `path` that holds a `.dvc/` directory."""
    path = path.resolve()
    for candidate in (path, *path.parents):
        if (candidate / ".dvc").is_dir():
            return candidate
    return None


def configure_remote(repo: Path, settings: Mu0Settings) -> str | None:
    """Make the remote that settings name the default one (in config.local); returns its name."""
    if settings.dvc_remote == "none":
        return None
    if settings.dvc_remote == "local":
        url = str(settings.dvc_local_remote.expanduser().resolve())
        Path(url).mkdir(parents=True, exist_ok=True)
        run_dvc(repo, "remote", "add", "--local", "--force", "--default", "local", url)
        return "local"
    url = f"s3://{settings.s3_bucket}/{settings.s3_dvc_prefix.strip('/')}"
    run_dvc(repo, "remote", "add", "--local", "--force", "--default", "s3", url)
    run_dvc(repo, "remote", "modify", "--local", "s3", "region", settings.s3_region)
    if settings.s3_endpoint_url:
        run_dvc(repo, "remote", "modify", "--local", "s3", "endpointurl", settings.s3_endpoint_url)
    return "s3"


@dataclasses.dataclass(frozen=True)
class DataVersion:
    dvc_file: Path
    md5: str  # DVC's directory hash of data/raw: the dataset version
    nfiles: int
    size_bytes: int
    remote: str | None


def read_data_version(dvc_file: Path) -> dict:
    outs = yaml.safe_load(dvc_file.read_text()).get("outs") or [{}]
    return outs[0]


def version_data(data_dir: Path, settings: Mu0Settings, push: bool = True) -> DataVersion:
    """`dvc commit` `data_dir` through the repo's top-level data.dvc (created if missing) and push it."""
    repo = find_dvc_root(data_dir)
    if repo is None:
        raise DvcError(f"{data_dir} is not inside a DVC repository (run `dvc init` at the repository root)")
    rel = data_dir.resolve().relative_to(repo).as_posix()
    dvc_file = repo / DATA_DVC
    if not dvc_file.exists() or read_data_version(dvc_file).get("path") != rel:
        dvc_file.write_text(yaml.safe_dump({"outs": [{"path": rel}]}, sort_keys=False))
    run_dvc(repo, "commit", "--force", DATA_DVC)
    remote = configure_remote(repo, settings) if push else None
    if remote is not None:
        run_dvc(repo, "push", "--remote", remote, DATA_DVC)
    out = read_data_version(dvc_file)
    version = DataVersion(dvc_file, str(out["md5"]), int(out.get("nfiles", 0)), int(out.get("size", 0)), remote)
    log.info("versioned %s as %s (%d files) → remote %s", rel, version.md5, version.nfiles, remote)
    return version


def pull_data(repo: Path, settings: Mu0Settings) -> None:
    remote = configure_remote(repo, settings)
    run_dvc(repo, "pull", *(["--remote", remote] if remote else []), DATA_DVC)
