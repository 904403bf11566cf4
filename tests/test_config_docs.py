"""Every option a user can set says what it does: each field of every config and CLI argument dataclass has
a comment (on the lines above it or at its end), which tyro turns into its --help text."""

import dataclasses
import importlib
import inspect
import pkgutil
import re

import mu0.cli
import mu0.config
import mu0.stages


def _dataclasses():
    modules = [importlib.import_module(m.name) for pkg in (mu0.config, mu0.cli, mu0.stages)
               for m in pkgutil.iter_modules(pkg.__path__, pkg.__name__ + ".") if not m.name.endswith("__main__")]
    for module in [mu0.config, *modules]:
        for _, cls in inspect.getmembers(module, dataclasses.is_dataclass):
            if cls.__module__ == module.__name__ and (not module.__name__.startswith("mu0.stages")
                                                      or cls.__name__.endswith("Args")):  # results are not options
                yield cls


def _undocumented(cls) -> list[str]:
    lines, _ = inspect.getsourcelines(cls)
    missing = []
    for field in dataclasses.fields(cls):
        at = next((i for i, line in enumerate(lines) if re.match(rf"\s+{field.name}\s*:", line)), None)
        if at is None:
            continue  # inherited
        above = lines[at - 1].strip() if at else ""
        if not (above.startswith("#") or "  # " in lines[at]):
            missing.append(f"{cls.__module__}.{cls.__name__}.{field.name}")
    return missing


def test_every_option_has_a_comment():
    missing = [name for cls in _dataclasses() for name in _undocumented(cls)]
    assert missing == []
