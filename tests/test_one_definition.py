"""Each artifact name is spelled in one module: the files of a model folder in `mu0/bundle/files.py`.
A string literal elsewhere in the code (docstrings and comments aside) that names one is a second definition."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL_FOLDER = re.compile(r"(^|/)(config|delta_stats|protocol|train_config)\.json\b|(^|/)model\.safetensors\b"
                          r"|/(model|checkpoints|snapshots)(/|$)|^(checkpoints|snapshots)/")
HOMES = {"mu0/bundle/files.py"}


def _literals(path: Path):
    """(line, text) of every string constant that is not a docstring."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value


def _spelled(pattern: re.Pattern, homes: set[str]) -> list[str]:
    found = []
    for path in sorted([*ROOT.glob("mu0/**/*.py"), *ROOT.glob("flows/*.py")]):
        rel = path.relative_to(ROOT).as_posix()
        if rel not in homes:
            found += [f"{rel}:{line}: {text!r}" for line, text in _literals(path) if pattern.search(text)]
    return found


def test_model_folder_files_are_named_only_in_the_bundle():
    assert _spelled(MODEL_FOLDER, HOMES) == []
