"""Whether a trace episode is current: made from the same raw input, with the same config and the same
extractor code. A current episode is skipped; anything else is extracted again."""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

from mu0.config import TraceExtractConfig, to_dict
from mu0.episodes import EpisodeFormatError, read_meta
from mu0.trace_extract.output import read_extract_meta

VERSION = "mu0-traceextract-1"


@functools.cache
def code_hash() -> str:
    """Hash of TraceExtract's own source: a code change re-extracts, like a changed config does."""
    h = hashlib.sha256()
    root = Path(__file__).parent
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return h.hexdigest()[:16]


@functools.cache  # keyed by mtime and size too, so a rewritten file is read again, an unchanged one once
def _file_hash(path: str, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def weights_hash(path: str) -> str:
    """Content hash of a learned tracker's weights: retrained weights at the same path re-extract."""
    st = Path(path).stat()
    return _file_hash(str(Path(path).resolve()), st.st_mtime_ns, st.st_size)


def config_hash(cfg: TraceExtractConfig) -> str:
    d = to_dict(cfg)
    d.pop("workers")
    payload = {"version": VERSION, "code": code_hash(), **d}
    if cfg.motion == "learned":
        payload["flow_weights_hash"] = weights_hash(cfg.flow_weights)
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def current_extraction(input_hash: str, target: Path, cfg: TraceExtractConfig) -> dict | None:
    """The extractor's record of `target` if it was made from this input with this config and code; else None."""
    previous = read_extract_meta(target)
    if previous and previous.get("input_hash") == input_hash and previous.get("config_hash") == config_hash(cfg):
        return previous
    return None


def extraction_key(raw: Path, out_dir: Path, cfg: TraceExtractConfig) -> str | None:
    """A cache key under which an orchestrator may skip the episode: the same while the output stays current
    (same input, config and code); None when it is not current, so that nothing cached stands in for work."""
    try:
        input_hash = str(read_meta(Path(raw)).get("content_hash", ""))
    except (EpisodeFormatError, OSError):
        input_hash = ""  # unreadable: the extraction itself quarantines it and says why
    if not input_hash or current_extraction(input_hash, Path(out_dir) / Path(raw).name, cfg) is None:
        return None
    parts = (str(Path(raw).resolve()), str(Path(out_dir).resolve()), input_hash, config_hash(cfg))
    return "extract-" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]
