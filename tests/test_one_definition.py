"""Each artifact name is spelled in one module: the files of a model folder in `mu0/bundle/files.py`.
A string literal elsewhere in the code (docstrings and comments aside) that names one is a second definition."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL_FOLDER = re.compile(r"(^|/)(config|delta_stats|protocol|train_config)\.json\b|(^|/)model\.safetensors\b"
                          r"|/(model|checkpoints|snapshots)(/|$)|^(checkpoints|snapshots)/")
HOMES = {"mu0/bundle/files.py"}
GX_LAYOUT = {"mu0/validation/gx_project.py"}  # a Great Expectations project's own folders ("checkpoints/" is GX's)


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
    assert _spelled(MODEL_FOLDER, HOMES | GX_LAYOUT) == []


BATCH_HOLDERS = {"batch", "item", "inputs", "sample"}  # the names batches go by
TRACE_LAYOUT = re.compile(r"^(traj|traj_history|valid_steps|valid_steps_history|frame_indices|track_ids|uv_px|xyz_world"
                          r"|visibs|raw_\w+|captions\.json|curated_training_texts\.json|tracks\.npz)$")


def _batch_keys() -> set[str]:
    import mu0.batch

    return {v for k, v in vars(mu0.batch).items() if k.isupper() and isinstance(v, str)}


def _subscripts(path: Path, holders: set[str]):
    """(line, key) of every `holder["key"]` and `holder.get("key")` with a literal key."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in holders \
                and isinstance(node.slice, ast.Constant):
            yield node.lineno, node.slice.value
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                and isinstance(node.func.value, ast.Name) and node.func.value.id in holders and node.args \
                and isinstance(node.args[0], ast.Constant):
            yield node.lineno, node.args[0].value


def test_batch_keys_are_spelled_only_in_mu0_batch():
    keys = _batch_keys()
    from mu0.episodes import trace_layout

    shared = {v for v in vars(trace_layout).values() if isinstance(v, str)}  # is_moving: a sample array too
    distinctive = re.compile("^(" + "|".join(k for k in keys - shared if "_" in k) + ")$")  # plain words: other uses
    assert _spelled(distinctive, {"mu0/batch.py"}) == []
    indexed = [f"{p.relative_to(ROOT)}:{line}: {key!r}" for p in sorted(ROOT.glob("mu0/**/*.py"))
               for line, key in _subscripts(p, BATCH_HOLDERS) if key in keys]
    assert indexed == []


def test_the_trace_layout_is_spelled_only_in_episodes_trace_layout():
    assert _spelled(TRACE_LAYOUT, {"mu0/episodes/trace_layout.py"}) == []
    joins = [f"{p.relative_to(ROOT)}:{node.lineno}" for p in sorted(ROOT.glob("mu0/**/*.py"))
             for node in ast.walk(ast.parse(p.read_text())) if isinstance(node, ast.BinOp)
             and isinstance(node.op, ast.Div) and isinstance(node.right, ast.Constant)
             and node.right.value == "samples"]
    assert joins == []
