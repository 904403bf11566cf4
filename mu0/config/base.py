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


def from_dict(cls: type, data: dict, where: str = "") -> object:
    """Rebuild a (nested) config dataclass from `to_dict` output. Unknown or missing fields are an error
    that lists them all (a checkpoint written by another version names what changed)."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    missing = sorted(n for n, f in fields.items() if n not in data and f.default is dataclasses.MISSING
                     and f.default_factory is dataclasses.MISSING)
    if unknown or missing:
        raise ConfigError(f"{cls.__name__}{where}: unknown fields {unknown}, missing fields {missing}")
    kwargs = {}
    for name, value in data.items():
        default = fields[name].default
        if dataclasses.is_dataclass(default) and isinstance(value, dict):
            value = from_dict(type(default), value, f"{where}.{name}")
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    return cls(**kwargs)


def diff_fields(a: object, b: object, prefix: str = "") -> list[str]:
    """'field: a_value != b_value' for every (nested) field where two configs of one type differ."""
    out = []
    for f in dataclasses.fields(a):  # type: ignore[arg-type]
        x, y = getattr(a, f.name), getattr(b, f.name)
        if dataclasses.is_dataclass(x) and dataclasses.is_dataclass(y):
            out += diff_fields(x, y, f"{prefix}{f.name}.")
        elif x != y:
            out.append(f"{prefix}{f.name}: {x!r} != {y!r}")
    return out
