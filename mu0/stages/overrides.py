"""A stage's arguments from a preset plus overrides given as dotted names ({"train.steps": 10}), the way a
flow parameter or a scheduled deployment states them; each replaced section is checked again."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path


def with_overrides(args, overrides: dict | None = None):
    """`args` (a frozen dataclass) with each dotted field replaced; an unknown field is an error naming it."""
    for dotted, value in (overrides or {}).items():
        args = _replace(args, dotted.split("."), value, dotted)
    return args


def _replace(obj, path: list[str], value, dotted: str):
    names = {f.name for f in dataclasses.fields(obj)}
    if path[0] not in names:
        raise ValueError(f"override {dotted!r}: {type(obj).__name__} has no field {path[0]!r} "
                         f"(fields: {', '.join(sorted(names))})")
    current = getattr(obj, path[0])
    if len(path) > 1:
        if not dataclasses.is_dataclass(current):
            raise ValueError(f"override {dotted!r}: {type(obj).__name__}.{path[0]} has no fields")
        value = _replace(current, path[1:], value, dotted)
    elif isinstance(value, str) and _takes_path(type(obj), path[0]):
        value = Path(value)
    elif isinstance(current, tuple) and isinstance(value, list):
        value = tuple(value)
    return dataclasses.replace(obj, **{path[0]: value})


def _takes_path(cls: type, name: str) -> bool:
    """The field is a Path (or an optional one), as its annotation says."""
    hint = typing.get_type_hints(cls)[name]
    return hint is Path or Path in typing.get_args(hint)
