"""A stage's report on disk: the JSON and its markdown table beside it, both written atomically and logged to
the stage's run with any folders that go with it (overlays, videos)."""

from __future__ import annotations

from pathlib import Path

from mu0.episodes.atomic import write_bytes_atomic, write_json_atomic


def headline_path(report: Path) -> Path:
    """Where a report's headline figures lie (what dvc.yaml's `metrics:` name): `<report>_headline.json`."""
    return Path(report).with_name(f"{Path(report).stem}_headline.json")


def save_report(tracker, path: Path, report: dict, table: str, *extra: Path, headline: dict | None = None) -> None:
    """`headline`: the report's few figures that DVC compares, written to `headline_path(path)`."""
    path = Path(path)
    write_json_atomic(path, report)
    write_bytes_atomic(path.with_suffix(".md"), table.encode())
    if headline is not None:
        write_json_atomic(headline_path(path), headline)
    for item in (path, path.with_suffix(".md"), *([headline_path(path)] if headline is not None else []), *extra):
        if Path(item).exists():
            tracker.log_artifact(item)


def run_reports(run_id: str, root: Path = Path("reports")) -> Path:
    """The folder one chain run writes its reports into (so concurrent runs never share a file)."""
    return Path(root) / "runs" / run_id


def publish_latest(run_dir: Path, root: Path = Path("reports")) -> list[Path]:
    """Copy a run's reports up into `root` as the latest: each file and folder replaced atomically (a reader sees
    the old one or the new one). Returns what was published."""
    import shutil
    import uuid

    from mu0.episodes.atomic import publish_dir

    published = []
    for item in sorted(Path(run_dir).iterdir()):
        target = Path(root) / item.name
        if item.is_dir():
            staging = Path(root) / f".{item.name}.{uuid.uuid4().hex[:8]}.tmp"
            shutil.copytree(item, staging)
            try:
                publish_dir(staging, target, Path(root))
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        else:
            write_bytes_atomic(target, item.read_bytes())
        published.append(target)
    return published
