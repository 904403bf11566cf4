import json
import shutil

import numpy as np
import pytest

from mu0.config import (
    BackboneConfig,
    TraceDataConfig,
    TraceExpertConfig,
    TrainConfig,
    WorldModelConfig,
)
from mu0.evaluation.trace_eval import evaluate_traces, markdown_table, positions
from mu0.evaluation.trace_metrics import cluster_bootstrap_ci
from mu0.models.registry import config_for
from mu0.training.pretrain import pretrain
from tests.trace_extract.synthetic import box_trace_dataset

MODEL = WorldModelConfig(backbone=BackboneConfig(image_size=32), expert=TraceExpertConfig(width=32, layers=1),
                         horizon=8, history=4)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    box_trace_dataset(root, 5, query_stride=3)
    data = TraceDataConfig(num_points=8, horizon=8, history=4, train_fraction=0.9, val_fraction=0.1)
    train = TrainConfig(steps=2, micro_batch=4, warmup_steps=1, checkpoint_every=0)
    folders = {kind: pretrain(root / "traces", root / kind, data, config_for(kind, MODEL), train).model_dir
               for kind in ("mu0", "track-transformer", "tokenized-vlm")}
    for folder in folders.values():  # these tests score mechanics on every episode, so forget the split
        _record_split(folder, splits=None)
    return root, folders


def _record_split(folder, splits, holdout_tasks=(), max_train_episodes=0):
    path = folder / "train_config.json"
    recorded = json.loads(path.read_text())
    recorded["data"].update(holdout_tasks=list(holdout_tasks), max_train_episodes=max_train_episodes)
    recorded["splits"] = splits
    path.write_text(json.dumps(recorded))


@pytest.mark.slow
def test_report_scores_every_model_and_baseline_on_the_same_queries(trained, tmp_path):
    root, folders = trained
    everything_val = TraceDataConfig(num_points=8, train_fraction=0.01, val_fraction=0.98)  # mechanics, not quality
    report = evaluate_traces(folders, root / "traces", everything_val, split="val", samples=2,
                             horizons=(4, 8, 32), overlay_dir=tmp_path / "overlays")
    assert report["truth"] == "extracted"  # synthetic episodes carry no simulator ground truth
    assert set(report["protocols"]) == {"recipe", "dense", "all"} and report["headline_protocol"] == "dense"
    assert report["methods"] == report["protocols"]["dense"]["methods"]
    methods = report["methods"]
    expected = {"mu0", "mu0_sample", "mu0_mean", "track-transformer", "tokenized-vlm", "static", "constant_velocity"}
    has_bank = isinstance(report["retrieval_bank"], dict)  # the retrieval baseline needs a training frame
    assert set(methods) == expected | ({"retrieval"} if has_bank else set())
    assert set(methods["mu0"]) == {"4", "8"}  # 32 exceeds the models' horizon
    for protocol in report["protocols"].values():  # the report contract other scripts read
        for key in ("ade_uv", "ade_xyz", "fde_uv", "minade_uv", "ade_uv_ci95", "minade_uv_ci95"):
            assert key in protocol["methods"]["mu0"]["8"], key
    static = methods["static"]["8"]
    assert static["ade_uv"] > 0 and static["minade_uv"] == pytest.approx(static["ade_uv"])
    assert static["ade_px"] > static["ade_uv"]  # the same error, in pixels of a 80×64 image
    lo, hi = static["ade_uv_ci95"]
    assert lo <= static["ade_uv"] <= hi
    assert methods["mu0"]["8"]["minade_uv"] <= methods["mu0_sample"]["8"]["ade_uv"] + 1e-9  # best of 2 draws
    assert methods["mu0_mean"]["8"]["ade_uv"] != pytest.approx(methods["mu0_sample"]["8"]["ade_uv"])
    for name in ("mu0", "track-transformer", "tokenized-vlm"):
        m = methods[name]["8"]
        assert m["trajectories"] == static["trajectories"]
        if name != "mu0":  # a greedy decode is one of the draws; a regression is every draw
            assert m["minade_uv"] <= m["ade_uv"] + 1e-9
        assert np.isfinite([m["ade_xyz"], m["frechet_depth"], m["dtw_px"]]).all()
    assert methods["track-transformer"]["8"]["minade_uv"] == pytest.approx(methods["track-transformer"]["8"]["ade_uv"])
    table = markdown_table(report)
    assert "| tokenized-vlm | 8 |" in table and "[" in table
    assert len(report["overlays"]) == 4 and all(p.endswith(".png") for p in report["overlays"])
    json.dumps(report)  # the report is JSON as it is


@pytest.mark.slow
def test_held_out_tasks_are_scored_apart(trained):
    root, folders = trained
    for i in (0, 1):  # two episodes become another task, held out
        meta_path = root / "traces" / f"box-{i}" / "meta.json"
        meta = json.loads(meta_path.read_text())
        meta_path.write_text(json.dumps({**meta, "task": "slide-box-far"}))
    cfg = TraceDataConfig(num_points=8, train_fraction=0.5, val_fraction=0.0, holdout_tasks=("slide-box-far",))
    report = evaluate_traces({"mu0": folders["mu0"]}, root / "traces", cfg, samples=1, horizons=(8,))
    held = report["heldout_tasks"]
    assert held["tasks"] == ["slide-box-far"] and held["episodes"] == 2
    assert held["methods"]["static"]["8"]["trajectories"] > 0
    assert "held-out tasks (slide-box-far)" in markdown_table(report)
    assert report["protocols"]["recipe"]["heldout_tasks"]["tasks"] == ["slide-box-far"]


@pytest.mark.slow
def test_seen_tasks_are_also_scored_per_camera_and_per_task(trained):
    root, folders = trained
    metas = {i: root / "traces" / f"box-{i}" / "meta.json" for i in range(5)}
    saved = {i: path.read_text() for i, path in metas.items()}
    try:
        for i, path in metas.items():  # half the episodes seen by another camera, two of another task
            path.write_text(json.dumps({**json.loads(saved[i]), "camera": "wrist" if i % 2 else "front",
                                        "task": "slide-left" if i < 2 else "slide-right"}))
        everything_val = TraceDataConfig(num_points=8, train_fraction=0.01, val_fraction=0.98)
        report = evaluate_traces({"mu0": folders["mu0"]}, root / "traces", everything_val, split="val", samples=1,
                                 horizons=(8,))
    finally:
        for i, path in metas.items():
            path.write_text(saved[i])
    for protocol in report["protocols"].values():
        for section, groups in (("by_camera", {"front", "wrist"}), ("by_task", {"slide-left", "slide-right"})):
            parts = protocol[section]
            assert set(parts) == groups
            total = sum(part["methods"]["static"]["8"]["trajectories"] for part in parts.values())
            assert total == protocol["methods"]["static"]["8"]["trajectories"]  # the groups split the seen rows
    table = markdown_table(report)
    assert "seen tasks, camera wrist" in table
    assert "## dense: seen tasks one by one, ade_uv at horizon 8" in table
    assert table.count("| slide-left | ") == len(report["protocols"])


def test_positions_back_project_through_the_intrinsics():
    K = np.array([[[100.0, 0, 31.5], [0, 100.0, 31.5], [0, 0, 1]]])
    delta = np.zeros((1, 2, 3))
    delta[0, 1] = [0.5, 0.0, 0.1]  # a quarter image to the right, 10 cm further
    out = positions(delta, np.zeros((1, 2)), np.array([1.0]), np.array([True]), K, np.array([[64.0, 64.0]]))
    np.testing.assert_allclose(out[0, 0, 3:5], [31.5, 31.5])  # the anchor at the image centre
    np.testing.assert_allclose(out[0, 0, 5:], [0, 0, 1.0])
    np.testing.assert_allclose(out[0, 1, 5:], [16 * 1.1 / 100, 0, 1.1])
    no_depth = positions(delta, np.zeros((1, 2)), np.array([0.0]), np.array([False]), K, np.array([[64.0, 64.0]]))
    assert np.isnan(no_depth[..., 5:]).all() and np.isfinite(no_depth[..., :2]).all()


def test_cluster_bootstrap_interval_covers_the_mean_and_respects_groups():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(20), 10)
    values = rng.normal(0, 0.1, 200) + np.repeat(rng.normal(0, 1, 20), 10)  # strong episode effect
    lo, hi = cluster_bootstrap_ci(values, groups)
    assert lo < values.mean() < hi
    naive_lo, naive_hi = cluster_bootstrap_ci(values, np.arange(200))
    assert hi - lo > 2 * (naive_hi - naive_lo)  # correlated trajectories: a wider, honest interval
    assert cluster_bootstrap_ci(np.full(5, np.nan), np.arange(5)) != cluster_bootstrap_ci(np.ones(5), np.arange(5))


@pytest.mark.slow
def test_max_queries_scores_a_spread_subset(trained):
    root, folders = trained
    cfg = TraceDataConfig(num_points=8, train_fraction=0.01, val_fraction=0.98)
    report = evaluate_traces({"mu0": folders["mu0"]}, root / "traces", cfg, split="val", samples=1, horizons=(8,),
                             max_queries=3)
    assert report["queries"] == 3 and report["methods"]["static"]["8"]["trajectories"] <= 3 * 8


@pytest.mark.slow
def test_point_estimate_is_deterministic_and_the_recipe_protocol_queries_moving_points(trained):
    root, folders = trained
    cfg = TraceDataConfig(num_points=8, train_fraction=0.01, val_fraction=0.98)
    runs = [evaluate_traces({"mu0": folders["mu0"]}, root / "traces", cfg, split="val", samples=2, horizons=(8,),
                            seed=seed) for seed in (0, 1)]
    point = [r["protocols"]["dense"]["methods"]["mu0"]["8"]["ade_uv"] for r in runs]
    drawn = [r["protocols"]["dense"]["methods"]["mu0_sample"]["8"]["ade_uv"] for r in runs]
    assert point[0] == point[1] and drawn[0] != drawn[1]  # x = 0 start vs a seeded random draw
    recipe = runs[0]["protocols"]["recipe"]
    assert recipe["frames"] == [4, 8, 12] and recipe["points"] == "moving" and recipe["history"] is False
    assert 0 < recipe["methods"]["static"]["8"]["trajectories"] <= 3 * 16 * runs[0]["episodes"]


@pytest.mark.slow
def test_a_model_of_another_trace_protocol_is_refused(trained, tmp_path):
    from mu0.traces.protocol import PROTOCOL_FILE, ProtocolMismatchError

    root, folders = trained
    other = tmp_path / "mu0"
    shutil.copytree(folders["mu0"], other)
    recorded = json.loads((other / PROTOCOL_FILE).read_text())
    assert recorded["retarget_interval"] == pytest.approx(0.0125)
    (other / PROTOCOL_FILE).write_text(json.dumps({**recorded, "retarget_interval": 0.05}))
    cfg = TraceDataConfig(num_points=8, train_fraction=0.01, val_fraction=0.98)
    with pytest.raises(ProtocolMismatchError, match=r"retarget_interval: 0.05 != 0.0125"):
        evaluate_traces({"mu0": other}, root / "traces", cfg, split="val", samples=1, horizons=(8,))


@pytest.mark.slow
def test_a_split_without_moving_points_is_a_clear_error(trained, tmp_path):
    from mu0.evaluation.trace_eval import NoMovingPointsError

    root, folders = trained
    still = tmp_path / "traces"
    shutil.copytree(root / "traces", still)
    for moving in still.glob("*/samples/is_moving.npy"):
        np.save(moving, np.zeros_like(np.load(moving)))
    cfg = TraceDataConfig(num_points=8, train_fraction=0.01, val_fraction=0.98)
    with pytest.raises(NoMovingPointsError, match="no keypoint of the val split"):
        evaluate_traces({"mu0": folders["mu0"]}, still, cfg, split="val", samples=1, horizons=(8,))


@pytest.mark.slow
def test_the_models_split_is_kept_and_its_training_episodes_are_never_scored(trained, tmp_path):
    from mu0.evaluation.trained_split import TrainedOnTestError

    root, folders = trained
    model = tmp_path / "mu0"
    shutil.copytree(folders["mu0"], model)
    cfg = TraceDataConfig(num_points=8, train_fraction=0.01, val_fraction=0.0)
    _record_split(model, {"train": ["box-1"], "val": [], "test": []})
    with pytest.raises(TrainedOnTestError, match=r"train_config.json: mu0 was trained on 1 of the \d+ episodes.*box-1"):
        evaluate_traces({"mu0": model}, root / "traces", cfg, samples=1, horizons=(8,))
    # Trained with box-3's task held out: evaluation without --data.holdout-tasks keeps it held out.
    meta_path = root / "traces" / "box-3" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "task": "slide-box-held"}))
    try:
        _record_split(model, {"train": [], "val": [], "test": []}, holdout_tasks=("slide-box-held",),
                      max_train_episodes=1)
        report = evaluate_traces({"mu0": model}, root / "traces", cfg, samples=1, horizons=(8,))
    finally:
        meta_path.write_text(json.dumps(meta))
    assert report["holdout_tasks"] == ["slide-box-held"] and "train_config.json" in report["split_note"]
    assert "training subset of 1 episodes" in report["split_note"]  # the retrieval bank: what the model saw
    assert report["protocols"]["dense"]["heldout_tasks"]["episodes"] == 1
    assert "Split: held-out tasks slide-box-held" in markdown_table(report)
