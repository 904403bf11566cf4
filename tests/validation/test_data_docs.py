"""The gate's GX project: Data Docs a person can open, a validation definition that re-runs by name, the
link from validation.md, and the docs logged to the stage's run."""

import contextlib
import json
import re
import shutil

import pytest

from mu0.episodes.hashing import content_hash
from mu0.stages.validate import ValidateArgs, validate_stage
from mu0.validation import gx_project
from mu0.validation import report as report_io
from tests.validation.box_dataset import write_box_dataset

BAD_FPS = 1000.0  # above ValidationConfig.max_fps: raw.fps fails for box-c only
REPORT_KEYS = {"success", "critical_failures", "episodes", "quarantined", "failing_episodes", "accepted_episodes",
               "drift", "accepted_stats", "checks"}


class RecordingTracker:
    def __init__(self):
        self.artifacts, self.metrics = [], {}

    def log_artifact(self, path):
        self.artifacts.append(path)

    def log_metrics(self, metrics, step):
        self.metrics.update(metrics)


def _dataset(root):
    write_box_dataset(root)
    meta_path = root / "raw" / "box-c" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["fps"] = BAD_FPS
    meta_path.write_text(json.dumps(meta))
    meta["content_hash"] = content_hash(meta_path.parent)  # re-hashed: only the fps is wrong
    meta_path.write_text(json.dumps(meta))


@pytest.fixture(scope="module")
def gated(tmp_path_factory):
    """One stage run with tracking on, reporting to a recording tracker; returns (result, tracker)."""
    root = tmp_path_factory.mktemp("docs")
    _dataset(root)
    tracker = RecordingTracker()
    args = ValidateArgs(raw=str(root / "raw"), traces=str(root / "traces"), report=root / "reports" / "validation.json",
                        quarantine=root / "quarantine")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("mu0.stages.validate.stage_run", lambda *a, **k: contextlib.nullcontext(tracker))
        result = validate_stage(args)
    return result, tracker


def test_the_gate_quarantines_the_bad_episode_and_keeps_its_report_keys(gated):
    result, _ = gated
    assert result.success and list(result.report["quarantined"]) == ["box-c"]
    assert set(result.report) == REPORT_KEYS
    [failed] = [c for c in result.report["checks"] if not c["success"]]
    assert failed["name"] == "raw.fps" and failed["episodes"] == ["box-c"]
    assert failed["sample_rows"] == [{"fps": BAD_FPS, "episode_id": "box-c"}]


def test_data_docs_are_written_and_name_the_failing_expectation(gated):
    result, _ = gated
    docs = result.docs
    assert docs == result.report_path.parent / "validation_docs" and (docs / "index.html").is_file()
    assert sorted(p.name for p in result.report_path.parent.iterdir()) == [
        "validation.json", "validation.md", "validation_docs"]  # no staging or old folder left behind
    [page] = (docs / "validations" / "mu0-raw").rglob("*.html")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.read_text()))  # what a browser shows
    assert "Status: Failed" in text and "Unsuccessful Expectations 1 " in text
    assert "fps Status Expectation" in text and "1 unexpected values found" in text and str(BAD_FPS) in text
    suite_page = (docs / "expectations" / "mu0-raw.html").read_text()
    assert "expect_column_values_to_be_between" in suite_page and "raw.fps" in suite_page
    assert "mu0-raw" in (docs / "index.html").read_text()


def test_the_markdown_report_links_the_data_docs_and_keeps_its_content(gated):
    result, _ = gated
    md = result.report_path.with_suffix(".md").read_text()
    link = "[validation_docs/index.html](validation_docs/index.html)"
    assert md.startswith(report_io.markdown(result.report).rstrip("\n")) and md.rstrip().endswith(link)
    assert json.loads(result.report_path.read_text()) == json.loads(json.dumps(result.report))


def test_the_reports_and_the_data_docs_are_logged_to_the_stage_run(gated):
    result, tracker = gated
    logged = {str(p) for p in tracker.artifacts}
    assert {str(result.report_path), str(result.report_path.with_suffix(".md")), str(result.docs)} <= logged
    assert tracker.metrics["validation/quarantined"] == 1 and tracker.metrics["validation/success"] == 1.0


def _outcomes(suite_result):
    return [(r.expectation_config.type, r.expectation_config.kwargs.get("column"), bool(r.success),
             int((r.result or {}).get("unexpected_count") or 0)) for r in suite_result.results]


def test_the_persisted_validation_definition_reruns_by_name_with_the_same_result(gated, tmp_path):
    import great_expectations as gx

    result, _ = gated
    copy = tmp_path / "validation_docs"
    shutil.copytree(result.docs, copy)  # re-run from a copy: the original stays as the gate left it
    context = gx.get_context(mode="file", context_root_dir=copy / "gx")  # the snippet in docs/architecture.md
    again = context.validation_definitions.get("mu0-raw").run()
    raw = [c for c in result.report["checks"] if c["table"] == "raw"]
    assert [(s, n) for _, _, s, n in _outcomes(again)] == [(c["success"], c["unexpected_count"]) for c in raw]
    assert not again.success and context.variables.analytics_enabled is False
    rerun = context.checkpoints.get(gx_project.CHECKPOINT).run()
    by_suite = {r.suite_name: _outcomes(r) for r in rerun.run_results.values()}
    assert by_suite[gx_project.definition_name("raw")] == _outcomes(again)
    flat = [(s, n) for table in dict.fromkeys(c["table"] for c in result.report["checks"])
            for _, _, s, n in by_suite[gx_project.definition_name(table)]]
    assert flat == [(c["success"], c["unexpected_count"]) for c in result.report["checks"]]
    assert len(list((copy / "validations" / "mu0-raw").rglob("*.html"))) == 2  # the re-run's page joined the docs
