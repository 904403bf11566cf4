import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mu0.config import IngestOutput, MetaWorldSourceConfig, VideoSourceConfig

MU0 = [sys.executable, "-m", "mu0.cli"]


def mu0(*args, cwd=None, env=None):
    return subprocess.run([*MU0, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "COLUMNS": "200", **(env or {})}, timeout=300)


def _flags(cls):
    return {"--" + f.name.replace("_", "-") for f in dataclasses.fields(cls) if not dataclasses.is_dataclass(f.type)}


def test_top_level_help_lists_commands():
    out = mu0("--help")
    assert out.returncode == 0 and all(c in out.stdout for c in ("ingest", "inspect", "data"))


@pytest.mark.parametrize(
    ("args", "configs"),
    [
        (("ingest", "metaworld", "--help"), (MetaWorldSourceConfig, IngestOutput)),
        (("ingest", "video", "--help"), (VideoSourceConfig, IngestOutput)),
        (("ingest", "s3", "--help"), (VideoSourceConfig, IngestOutput)),
    ],
)
def test_every_option_is_explained_in_help(args, configs):
    out = mu0(*args)
    assert out.returncode == 0, out.stderr
    for cls in configs:
        for flag in _flags(cls) - {"--video"}:
            assert flag in out.stdout, f"{flag} missing from `mu0 {' '.join(args)}`"
    assert "(default:" in out.stdout and "--preset" in out.stdout
    if "s3" in args:
        assert all(f in out.stdout for f in ("--max-attempts", "--retry-backoff-s", "--cache"))


def test_ingest_metaworld_end_to_end_then_inspect(tmp_path):
    out = mu0("ingest", "metaworld", "--preset", "debug", "--tasks", "reach-v3", "--episodes-per-task", "1",
              "--out", tmp_path / "raw", "--quarantine", tmp_path / "q", "--no-version")
    assert out.returncode == 0, out.stderr
    assert "1 written" in out.stderr and "mu0 inspect" in out.stderr
    listing = mu0("inspect", tmp_path / "raw")
    assert listing.returncode == 0 and "mw-reach-v3-s00000-front" in listing.stdout
    sheet = tmp_path / "sheet.png"
    one = mu0("inspect", tmp_path / "raw", "--episode", "mw-reach-v3-s00000-front", "--save", sheet, "--verify")
    assert one.returncode == 0, one.stderr
    from PIL import Image

    assert Image.open(sheet).size == (6 * 64, 2 * 64)


def test_unknown_task_exits_2_listing_valid_tasks(tmp_path):
    out = mu0("ingest", "metaworld", "--tasks", "reach-v9", "--out", tmp_path / "raw", "--no-version")
    assert out.returncode == 2
    assert "unknown Meta-World task 'reach-v9'" in out.stderr and "reach-wall-v3" in out.stderr
    assert not (tmp_path / "raw").exists()


def test_unknown_preset_suggests_the_closest(tmp_path):
    out = mu0("ingest", "metaworld", "--preset", "tiyn")
    assert out.returncode == 2 and "Did you mean 'tiny'" in out.stderr


def test_bad_option_value_names_the_field():
    out = mu0("ingest", "metaworld", "--size", "4", "--no-version")
    assert out.returncode != 0 and "size" in out.stderr


@pytest.mark.slow
def test_ingest_versions_the_data_with_dvc(tmp_path):
    from mu0.mlops.dvc import run_dvc

    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    run_dvc(repo, "init", "-q")
    env = {"MU0_DVC_REMOTE": "local", "MU0_DVC_LOCAL_REMOTE": str(tmp_path / "remote")}
    out = mu0("ingest", "metaworld", "--preset", "debug", "--tasks", "reach-v3", "--episodes-per-task", "1",
              cwd=repo, env=env)
    assert out.returncode == 0, out.stderr
    dvc_file = (repo / "data.dvc").read_text()
    assert "path: data/raw" in dvc_file and ".dir" in dvc_file
    assert "pushed to remote 'local'" in out.stderr.replace("\n", " ")
    assert any(Path(tmp_path / "remote").rglob("*"))
    status = run_dvc(repo, "status", "--cloud", "data.dvc")
    assert "up to date" in status or status.strip() == "" or "Cache and remote" in status
    assert json.loads((repo / "data" / "raw" / "mw-reach-v3-s00000-front" / "meta.json").read_text())["task"]


def test_extract_and_extract_eval_from_the_command_line(metaworld_episodes, tmp_path):
    exact = mu0("extract", "--in", metaworld_episodes, "--out", tmp_path / "exact", "--quarantine", tmp_path / "qe")
    assert exact.returncode == 0 and "2 written" in exact.stderr  # the presets trace simulated episodes exactly
    refused = mu0("extract-eval", "--raw", metaworld_episodes, "--traces", tmp_path / "exact", "--report",
                  tmp_path / "r.json")
    assert refused.returncode == 2 and "groundtruth are the truth itself" in refused.stdout + refused.stderr
    out = mu0("extract", "--in", metaworld_episodes, "--out", tmp_path / "traces", "--quarantine", tmp_path / "q",
              "--future-len", "16", "--min-coverage", "0.1", "--tracker", "lk")
    assert out.returncode == 0, out.stderr
    assert "2 written" in out.stderr
    report = tmp_path / "reports" / "extract_eval.json"
    ev = mu0("extract-eval", "--raw", metaworld_episodes, "--traces", tmp_path / "traces", "--report", report,
             "--overlays", tmp_path / "overlays")
    assert ev.returncode == 0, ev.stderr
    assert "front (all tasks)" in ev.stdout and report.exists() and report.with_suffix(".md").exists()
    assert len(list((tmp_path / "overlays").glob("*.png"))) == 2
    again = mu0("extract", "--in", metaworld_episodes, "--out", tmp_path / "traces", "--quarantine", tmp_path / "q",
                "--future-len", "16", "--min-coverage", "0.1", "--tracker", "lk")
    assert "2 unchanged" in again.stderr


def test_validate_gates_from_the_command_line(metaworld_episodes, tmp_path):
    traces = tmp_path / "traces"
    assert mu0("extract", "--in", metaworld_episodes, "--out", traces, "--quarantine", tmp_path / "q",
               "--future-len", "16", "--min-coverage", "0.1").returncode == 0
    report = tmp_path / "validation.json"
    ok = mu0("validate", "--raw", metaworld_episodes, "--traces", traces, "--report", report,
             "--quarantine", tmp_path / "vq", "--no-mlflow")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert json.loads(report.read_text())["success"] and "PASSED" in report.with_suffix(".md").read_text()
    assert (tmp_path / "validation_docs" / "index.html").exists() and "validation_docs/index.html" in ok.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = mu0("validate", "--raw", empty, "--traces", "", "--report", tmp_path / "v2.json", "--no-mlflow")
    assert bad.returncode == 1 and "episodes_present" in bad.stdout


@pytest.mark.slow
def test_pretrain_from_the_command_line(metaworld_episodes, tmp_path):
    traces = tmp_path / "traces"
    assert mu0("extract", "--in", metaworld_episodes, "--out", traces, "--quarantine", tmp_path / "q",
               "--future-len", "32", "--history-len", "8", "--min-coverage", "0.1").returncode == 0
    out = mu0("pretrain", "--preset", "debug", "--traces", traces, "--out", tmp_path / "mu0",
              "--validation-report", tmp_path / "none.json", "--train.steps", "4", "--no-mlflow",
              "--data.train-fraction", "0.9", "--data.val-fraction", "0.1")
    assert out.returncode == 0, out.stderr
    assert "pretrain: 4 steps" in out.stderr.replace("\n", " ")
    assert (tmp_path / "mu0" / "model" / "model.safetensors").exists()
    short = mu0("pretrain", "--preset", "debug", "--traces", traces, "--out", tmp_path / "x",
                "--validation-report", tmp_path / "none.json", "--data.horizon", "64", "--model.horizon", "64",
                "--no-mlflow")
    assert short.returncode != 0 and "need 65" in short.stderr
    (tmp_path / "none-accepted.json").write_text(json.dumps({"success": True, "accepted_episodes": []}))
    nothing = mu0("pretrain", "--preset", "debug", "--traces", traces, "--out", tmp_path / "y",
                  "--validation-report", tmp_path / "none-accepted.json", "--no-mlflow")
    assert nothing.returncode != 0 and "none-accepted.json accepts no episode" in nothing.stderr


@pytest.mark.slow
def test_finetune_and_evaluate_policy_from_the_command_line(metaworld_episodes, tmp_path):
    from mu0.models.world_model import Mu0WorldModel
    from mu0.presets import get_preset

    Mu0WorldModel(get_preset("debug").model).save_pretrained(tmp_path / "mu0")
    common = ("--preset", "debug", "--episodes", metaworld_episodes, "--world-model", tmp_path / "mu0",
              "--validation-report", tmp_path / "none.json", "--no-mlflow")
    for mode in ("trace", "scratch"):
        out = mu0("finetune", "--mode", mode, "--out", tmp_path / mode, *common)
        assert out.returncode == 0, out.stderr
        assert f"finetune {mode}: 20 steps on 1 demonstrations" in out.stderr.replace("\n", " ")
    refused = mu0("finetune", "--mode", "action-pretrained", *common)
    assert refused.returncode == 2 and "needs --init-from" in refused.stderr
    out = mu0("evaluate", "policy", "--preset", "debug", "--no-mlflow", "--report", tmp_path / "policy.json",
              "--videos", tmp_path / "videos", "--rollout.episodes-per-task", "1", "--policies",
              f"trace={tmp_path / 'trace' / 'model'}", f"scratch={tmp_path / 'scratch' / 'model'}",
              f"gone={tmp_path / 'nope'}")
    assert out.returncode == 0, out.stderr
    assert "policy gone:" in out.stderr and "skipped" in out.stderr
    report = json.loads((tmp_path / "policy.json").read_text())
    assert sorted(report["policies"]) == ["scratch", "trace"] and report["tasks"] == ["pick-place-v3"]
    assert (tmp_path / "policy.md").exists() and "pick-place-v3" in out.stdout


def test_train_flow_then_extract_with_the_learned_flow(metaworld_episodes, tmp_path):
    weights = tmp_path / "flow" / "net.safetensors"
    out = mu0("train-flow", "--raw", metaworld_episodes, "--out", weights, "--steps", "3", "--batch", "2",
              "--source-every", "2")
    assert out.returncode == 0, out.stderr
    assert weights.is_file() and "flow network →" in out.stdout + out.stderr
    ext = mu0("extract", "--preset", "debug", "--in", metaworld_episodes, "--out", tmp_path / "traces",
              "--quarantine", tmp_path / "q", "--motion", "learned", "--flow-weights", weights)
    assert ext.returncode == 0, ext.stderr
    assert sorted(p.name for p in (tmp_path / "traces").iterdir() if not p.name.startswith(".")) == sorted(
        p.name for p in metaworld_episodes.iterdir() if not p.name.startswith("."))
    empty = mu0("train-flow", "--raw", tmp_path / "nothing", "--out", weights)
    assert empty.returncode == 2 and "no episodes under" in empty.stdout + empty.stderr
