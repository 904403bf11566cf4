"""Quarantine notes: one JSON file per episode that could not be ingested, saying why.

The note is the record; the bad input itself stays where it came from (a video file, an S3 key, a
simulator seed) and is named in the note, so it can be inspected or retried.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

from mu0.episodes.atomic import write_json_atomic

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def quarantine_note_path(quarantine_dir: Path, episode_id: str) -> Path:
    return quarantine_dir / f"{_UNSAFE.sub('_', episode_id).strip('.') or 'episode'}.json"


def quarantine(quarantine_dir: Path, episode_id: str, source: str, reason: str, **details: object) -> Path:
    """Record why `episode_id` (from `source`) was not ingested; returns the note's path."""
    note = {
        "episode_id": episode_id,
        "source": source,
        "reason": reason,
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **details,
    }
    path = quarantine_note_path(quarantine_dir, episode_id)
    write_json_atomic(path, note)
    return path


def clear_quarantine(quarantine_dir: Path, episode_id: str) -> None:
    """An episode that now ingests cleanly is no longer quarantined."""
    quarantine_note_path(quarantine_dir, episode_id).unlink(missing_ok=True)


def read_quarantine(quarantine_dir: Path) -> list[dict]:
    if not quarantine_dir.is_dir():
        return []
    return [json.loads(p.read_text()) for p in sorted(quarantine_dir.glob("*.json"))]
