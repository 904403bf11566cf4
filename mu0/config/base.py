"""What every config module shares: the error type and the field check that names the field."""

from __future__ import annotations

import dataclasses
from pathlib import Path


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the field."""


def require(condition: bool, field: str, problem: str) -> None:
    if not condition:
        raise ConfigError(f"config field '{field}': {problem}")


def to_dict(config: object) -> dict:
    """A JSON-ready dict of a (nested) config dataclass; paths become strings, tuples lists."""

    def convert(value: object) -> object:
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, (tuple, list)):
            return [convert(v) for v in value]
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        return value

    return convert(dataclasses.asdict(config))  # type: ignore[arg-type]
