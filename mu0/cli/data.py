"""`mu0 data version | pull`: commit data/raw to DVC and push it, or pull it from the remote."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Literal

import tyro

from mu0.cli.common import console, parse


@dataclasses.dataclass(frozen=True)
class DataArgs:
    # version: dvc commit data/raw through data.dvc and push; pull: fetch data/raw from the remote.
    action: Annotated[Literal["version", "pull"], tyro.conf.Positional]
    # The DVC-tracked data folder.
    data: Path = Path("data/raw")


def run(args: list[str]) -> int:
    from mu0.mlops.dvc import DvcError, find_dvc_root, pull_data, version_data
    from mu0.settings import load_settings

    parsed = parse(DataArgs, None, args, "mu0 data",
                   "Version data/raw with DVC; the remote comes from MU0_DVC_REMOTE (local|s3|none).")
    settings = load_settings()
    try:
        if parsed.action == "version":
            v = version_data(parsed.data, settings)
            console.print(f"{v.dvc_file.name}: md5 {v.md5}, {v.nfiles} files, remote {v.remote}")
        else:
            repo = find_dvc_root(parsed.data) or Path.cwd()
            pull_data(repo, settings)
            console.print(f"pulled {parsed.data}")
    except DvcError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 1
    return 0
