"""The flows call stage functions (no argv, no report read back by a fixed path); task functions run directly;
a flow runs on a throwaway Prefect server (prefect_test_harness). The whole stack has its own test."""

import ast
import dataclasses
import json
from pathlib import Path

import pytest

from mu0.config import TrainConfig
from mu0.stages.overrides import with_overrides
from mu0.stages.pretrain import PretrainArgs
from mu0.stages.reports import publish_latest

ROOT = Path(__file__).resolve().parents[2]


def test_no_flow_builds_argv_or_reads_a_report_by_a_fixed_path():
    found = []
    for path in sorted((ROOT / "flows").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                found += [f"{path.name}:{node.lineno} imports {n}" for n in names if n.startswith("mu0.cli")]
            if isinstance(node, (ast.List, ast.Tuple)):  # an argument vector is a list of option strings
                found += [f"{path.name}:{e.lineno} puts {e.value!r} in a list" for e in node.elts
                          if isinstance(e, ast.Constant) and isinstance(e.value, str) and e.value.startswith("--")]
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "read_text" \
                    and "reports/" in ast.unparse(node.func.value):
                found.append(f"{path.name}:{node.lineno} reads {ast.unparse(node.func.value)}")
    assert found == []


def test_overrides_replace_dotted_fields_and_name_what_does_not_exist():
    args = with_overrides(PretrainArgs(), {"train.steps": 7, "out": "runs/x", "data.holdout_tasks": ["reach-v3"]})
    assert args.train.steps == 7 and args.out == Path("runs/x") and args.data.holdout_tasks == ("reach-v3",)
    assert args.train == dataclasses.replace(TrainConfig(), steps=7)
    with pytest.raises(ValueError, match="'train.stepz'.*TrainConfig has no field 'stepz'"):
        with_overrides(PretrainArgs(), {"train.stepz": 7})
    with pytest.raises(ValueError, match="'kind.x'.*kind has no fields"):
        with_overrides(PretrainArgs(), {"kind.x": 1})
    with pytest.raises(ValueError, match="min_lr"):  # each replaced section is checked again
        with_overrides(PretrainArgs(), {"train.lr": 1e-9})


def test_a_runs_reports_become_the_latest_replacing_whole_folders(tmp_path):
    run, root = tmp_path / "reports" / "runs" / "a", tmp_path / "reports"
    (run / "overlays").mkdir(parents=True)
    (run / "metrics.json").write_text("{}")
    (run / "overlays" / "new.png").write_bytes(b"png")
    (root / "overlays").mkdir()
    (root / "overlays" / "old.png").write_bytes(b"stale")
    published = publish_latest(run, root)
    assert sorted(p.name for p in published) == ["metrics.json", "overlays"]
    assert (root / "metrics.json").read_text() == "{}"
    assert [p.name for p in (root / "overlays").iterdir()] == ["new.png"]  # the old folder is gone, not merged
    assert not list(root.glob(".*tmp")) and not list(root.glob("*.old"))


def test_an_extraction_is_cached_only_while_its_output_is_current(tmp_path):
    from mu0.config import TraceExtractConfig
    from mu0.episodes import write_episode
    from mu0.trace_extract.freshness import extraction_key
    from mu0.trace_extract.pipeline import extract_episode
    from tests.trace_extract.synthetic import sliding_box_scene

    raw = write_episode(sliding_box_scene(), tmp_path / "raw").path
    cfg = TraceExtractConfig(future_len=8, history_len=4, min_coverage=0.0, workers=1)
    out = tmp_path / "traces"
    assert extraction_key(raw, out, cfg) is None  # nothing extracted yet: nothing may stand in for the work
    assert extract_episode(raw, out, tmp_path / "q", cfg).status == "written"
    key = extraction_key(raw, out, cfg)
    assert key and key == extraction_key(raw, out, cfg)
    assert extraction_key(raw, out, dataclasses.replace(cfg, future_len=10)) is None  # another config
    (out / raw.name / "meta.json").unlink()
    assert extraction_key(raw, out, cfg) is None  # the output is gone


def test_a_task_function_runs_its_stage_without_a_flow(tmp_path):
    from flows import tasks
    from flows.common import StageFailed
    from mu0.stages.validate import ValidateArgs

    report = tmp_path / "r" / "validation.json"
    with pytest.raises(StageFailed, match=rf"mu0 validate --preset debug exited with 1: .*{report}"):
        tasks.validate.fn("debug", ValidateArgs(raw=str(tmp_path / "empty"), traces="", report=report))
    assert json.loads(report.read_text())["success"] is False
    assert tasks.ingest.fn("debug", "none") is None


def test_a_failed_gate_fails_the_validate_flow_and_publishes_its_report(tmp_path, monkeypatch):
    from prefect.testing.utilities import prefect_test_harness

    from flows.common import StageFailed
    from flows.stage_flows import validate_flow

    monkeypatch.chdir(tmp_path)  # no data/raw and no traces here: the gate's "no data" is critical
    with prefect_test_harness(server_startup_timeout=120), pytest.raises(StageFailed, match="the validation gate"):
        validate_flow("debug", str(tmp_path / "out" / "validation.json"))
    assert (tmp_path / "out" / "validation.md").exists()
