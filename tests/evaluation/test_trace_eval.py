import numpy as np
import pytest

from mu0.config import (
    BackboneConfig,
    TraceDataConfig,
    TraceExpertConfig,
    TrainConfig,
    WorldModelConfig,
)
from mu0.evaluation.trace_eval import evaluate_traces, markdown_table
from mu0.training.pretrain import pretrain
from tests.trace_extract.synthetic import box_trace_dataset


@pytest.mark.slow
def test_report_scores_mu0_and_baselines_on_the_same_queries(tmp_path):
    box_trace_dataset(tmp_path, 5, query_stride=3)
    data = TraceDataConfig(num_points=8, horizon=8, history=4, train_fraction=0.9, val_fraction=0.1)
    model = WorldModelConfig(backbone=BackboneConfig(image_size=32), expert=TraceExpertConfig(width=32, layers=1),
                             horizon=8, history=4)
    result = pretrain(tmp_path / "traces", tmp_path / "mu0", data, model,
                      TrainConfig(steps=2, micro_batch=4, warmup_steps=1, checkpoint_every=0))
    everything_val = TraceDataConfig(num_points=8, train_fraction=0.01, val_fraction=0.98)  # mechanics, not quality
    report = evaluate_traces(result.model_dir, tmp_path / "traces", everything_val, split="val", samples=2,
                             horizons=(4, 8, 32))
    assert set(report["methods"]) == {"mu0", "mu0_with_history", "static", "constant_velocity"}
    assert set(report["methods"]["mu0"]) == {"4", "8"}  # 32 exceeds the model's horizon
    static = report["methods"]["static"]["8"]
    assert static["ade_uv"] > 0 and static["minade_uv"] == pytest.approx(static["ade_uv"])
    mu0 = report["methods"]["mu0"]["8"]
    assert mu0["minade_uv"] <= mu0["ade_uv"] + 1e-9 and mu0["trajectories"] == static["trajectories"]
    assert np.isfinite(mu0["frechet_depth"]) and "| mu0 | 8 |" in markdown_table(report)
