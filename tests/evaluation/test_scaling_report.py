"""The data-scaling curve merges per-size evaluation reports of one test split into aligned lists."""

import json

import pytest

from mu0.evaluation.scaling_report import markdown, merge


def _report(tmp_path, n, ade, split_episodes=12, train=None):
    train = train or n
    methods = {m: {"32": {"ade_uv": a, "ade_uv_ci95": [a - 0.01, a + 0.01], "fde_uv": 2 * a}}
               for m, a in (("mu0", ade), ("static", 0.2), ("constant_velocity", 0.15))}
    model = tmp_path / f"mu0-{n}" / "model"
    model.mkdir(parents=True)
    (model / "train_config.json").write_text(json.dumps({"splits": {"train": [f"e{i}" for i in range(train)]}}))
    report = {"split": "test", "episodes": split_episodes, "truth": "simulator", "models": {"mu0": str(model)},
              "protocols": {"recipe": {"methods": methods, "heldout_tasks": {"methods": methods}}}}
    path = tmp_path / f"metrics_{n}.json"
    path.write_text(json.dumps(report))
    return path


def test_points_are_sorted_and_all_resolves_to_the_runs_own_count(tmp_path):
    paths = [_report(tmp_path, 0, 0.10, train=480), _report(tmp_path, 75, 0.14), _report(tmp_path, 300, 0.12)]
    curve = merge(paths)
    assert curve["points"] == [75, 300, 480]
    mu0 = curve["protocols"]["recipe"]["seen"]["mu0"]["32"]
    assert mu0["ade_uv"] == [0.14, 0.12, 0.10] and mu0["ade_uv_ci95"][0] == pytest.approx([0.13, 0.15])
    assert curve["protocols"]["recipe"]["heldout_tasks"]["static"]["32"]["ade_uv"] == [0.2] * 3
    assert "| 480 | 0.1000 [0.0900, 0.1100] |" in markdown(curve)


def test_reports_of_different_test_sets_are_refused(tmp_path):
    with pytest.raises(ValueError, match="different test sets"):
        merge([_report(tmp_path, 75, 0.1), _report(tmp_path, 150, 0.1, split_episodes=13)])


def test_two_reports_of_one_size_are_refused(tmp_path):
    with pytest.raises(ValueError, match="as many episodes"):
        merge([_report(tmp_path, 0, 0.1, train=75), _report(tmp_path, 75, 0.1)])
