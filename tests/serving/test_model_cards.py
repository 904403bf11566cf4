"""Model cards say, in markdown, how a version scores against the baselines, what data and traces made it,
and its main config — and always fit in MLflow's description field."""

from __future__ import annotations

from mu0.serving import model_cards

TAGS = {"eval.metric": "ade_uv_h32", "eval.score": "0.05", "lineage.data_raw_md5": "8d67.dir",
        "lineage.git_commit": "abc", "lineage.validation": "passed", "lineage.config_hash": "c0ff",
        "lineage.run_id": "r1"}
TRACE_REPORT = {"split": "test", "episodes": 3, "truth": "simulator", "methods": {
    "mu0": {"8": {"ade_uv": 0.1}, "32": {"ade_uv": 0.05, "ade_uv_ci95": [0.04, 0.06], "ade_px": 1.5}},
    "static": {"32": {"ade_uv": 0.2, "ade_px": 6.0}}, "track-transformer": {"8": {"ade_uv": 0.3}}}}


def test_the_trace_table_compares_every_method_at_the_longest_horizon():
    table = model_cards.trace_metrics_table(TRACE_REPORT)
    assert table.splitlines()[:2] == ["| method | horizon | ade_uv | ade_px |", "|---|---|---|---|"]
    assert "| **mu0** (this version) | 32 | 0.0500 [0.0400, 0.0600] | 1.5000 |" in table
    assert "| static | 32 | 0.2000 | 6.0000 |" in table and "track-transformer" not in table  # no h32 score


def test_the_trace_source_says_simulator_exact_or_trace_extract():
    assert model_cards.trace_source({"groundtruth": 40}) == "simulator-exact (the `groundtruth` tracker): 40 episodes"
    both = model_cards.trace_source({"lk": 2, "unknown": 1})
    assert both == ("TraceExtract (`lk` tracker): 2 episodes; "
                    "TraceExtract, official output (tracker not recorded): 1 episode")
    assert model_cards.trace_source({}) == "not recorded"


def test_a_world_model_card_holds_metrics_data_hash_source_and_config():
    config = {"model": {"kind": "mu0", "horizon": 32, "backbone": {"pretrained": ""}},
              "train": {"trace_sources": {"groundtruth": 4}, "train": {"steps": 100}}}
    card = model_cards.world_model_card(TRACE_REPORT, TAGS, config)
    assert "(test split, 3 episodes, truth: simulator; lower is better)" in card
    assert "DVC hash of data/raw `8d67.dir`, validation passed" in card
    assert "- Trace source: simulator-exact" in card
    assert "| `model.horizon` | `32` |" in card and "| `train.train.steps` | `100` |" in card
    assert "| `model.backbone.pretrained` | – |" in card


def test_a_policy_card_compares_it_with_the_other_policies_on_the_same_seeds():
    report = {"tasks": ["reach-v3", "push-v3"], "seeds": [100, 109], "policies": {
        "trace": {"mean_success": 0.57, "overall": {"success": 0.55, "ci95": [0.45, 0.65], "episodes": 20}},
        "scratch": {"mean_success": 0.52}}}
    card = model_cards.policy_card(report, "trace", TAGS, {"policy": {"chunk": 8}, "train": {"world_model": "m"}},
                                   {"groundtruth": 3})
    assert "| **trace** (this version) | 57.0% | 0.4300 | 55.0% [45, 65] (n=20) |" in card
    assert "| scratch | 52.0% | 0.4800 | – |" in card and "seeds 100..109" in card
    assert "- μ_0 it reads: `m`; its traces: simulator-exact" in card and "| `policy.chunk` | `8` |" in card


def test_a_card_is_cut_to_fit_mlflows_description_field():
    config = {"model": {"backbone": {"pretrained": "x" * 6000}}}
    card = model_cards.world_model_card(TRACE_REPORT, TAGS, config)
    assert len(card) <= model_cards.MAX_CHARS and card.endswith("(card cut short)")
    assert "| method | horizon |" in card
