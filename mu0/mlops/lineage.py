"""Lineage of a model version: which code, which data, which config, which run made it."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import yaml


def git_commit(repo: Path = Path(".")) -> str:
    """HEAD's commit, with "+dirty" when tracked files have changes; "unknown" outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def dvc_data_hash(dvc_file: Path = Path("data.dvc")) -> str:
    """The md5 DVC recorded for data/raw in `data.dvc` ("untracked" without one)."""
    if not Path(dvc_file).exists():
        return "untracked"
    outs = (yaml.safe_load(Path(dvc_file).read_text()) or {}).get("outs", [])
    return str(outs[0].get("md5", "unknown")) if outs else "unknown"


def config_hash(config: dict) -> str:
    """A short stable hash of a resolved config dict."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def lineage_tags(config: dict, validation: dict | None, parent_run_id: str | None,
                 repo: Path = Path(".")) -> dict[str, str]:
    ok = "unknown" if validation is None else ("passed" if validation.get("success") else "failed")
    return {"lineage.git_commit": git_commit(repo), "lineage.data_raw_md5": dvc_data_hash(Path(repo) / "data.dvc"),
            "lineage.validation": ok, "lineage.config_hash": config_hash(config),
            "lineage.parent_run_id": parent_run_id or ""}
