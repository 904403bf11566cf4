"""Publishing a trained trace model: log it as a pyfunc, register it as `challenger` with lineage, its
evaluation and a model card, and fetch the current champion so the next evaluation can score both on the
same episodes."""

from __future__ import annotations

import json
from pathlib import Path

from mu0.bundle.files import CONFIG_FILE, WEIGHTS_FILE
from mu0.bundle.read import find_model_folders, read_config, read_record
from mu0.mlops import registry
from mu0.mlops.lineage import lineage_tags
from mu0.serving import model_cards
from mu0.serving.log_model import log_policy_model, log_trace_model

WORLD_MODEL = "mu0-world-model"
POLICY_MODEL = "mu0-policy-metaworld"
GATE_METRIC = "ade_uv"
POLICY_METRIC = "failure_rate"  # 1 − mean success over tasks: lower is better, like every gate metric


def gate_scores(report: dict, metric: str = GATE_METRIC, name: str = "mu0") -> tuple[float, float | None, str]:
    """(challenger score, champion score or None, "<metric>_h<horizon>") at the report's longest horizon."""
    methods = report["methods"]
    horizon = max(methods[name], key=int)
    champion = methods.get("champion", {}).get(horizon, {}).get(metric)
    return float(methods[name][horizon][metric]), champion, f"{metric}_h{horizon}"


def champion_folder(dst: Path, model: str = WORLD_MODEL) -> Path | None:
    """Download the champion's model folder (config.json + weights + statistics) into `dst`; None if
    there is no champion yet."""
    version = registry.alias_version(model, registry.CHAMPION)
    if version is None:
        return None
    return model_folder(f"models:/{model}/{version}", dst)


def model_folder(uri: str, dst: Path) -> Path:
    """The model folder (config.json + model.safetensors + statistics) of a registered model — a
    `models:/NAME/VERSION` or `models:/NAME@ALIAS` URI — downloaded into `dst`."""
    import mlflow

    try:
        root = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(dst)))
    except mlflow.exceptions.MlflowException as e:
        raise FileNotFoundError(f"{uri}: cannot be resolved in the MLflow registry ({e.message})") from None
    found = find_model_folders(root)
    if not found:
        raise FileNotFoundError(f"{uri}: no model folder ({CONFIG_FILE} + {WEIGHTS_FILE})")
    return found[0]


def publish_world_model(model_dir: Path, report_path: Path, validation_path: Path | None, run_id: str,
                        parent_run_id: str | None, repo: Path = Path("."), model: str = WORLD_MODEL) -> dict:
    """Log + register `model_dir` as the challenger; its tags carry lineage and both gate scores."""
    report = json.loads(Path(report_path).read_text())
    validation = json.loads(validation_path.read_text()) if validation_path and validation_path.exists() else None
    config = {"model": read_config(model_dir)}
    if read_record(model_dir):
        config["train"] = read_record(model_dir)
    score, champion, metric = gate_scores(report)
    tags = lineage_tags(config, validation, parent_run_id, repo)
    tags.update({"eval.metric": metric, "eval.score": f"{score:.6g}", "eval.split": report["split"],
                 "eval.episodes": str(report["episodes"]), "eval.truth": str(report.get("truth", "")),
                 "lineage.run_id": run_id,
                 "lineage.trace_source": json.dumps(config.get("train", {}).get("trace_sources", {}))})
    if champion is not None:
        tags["eval.champion_score"] = f"{champion:.6g}"
    image = config["model"].get("backbone", {}).get("image_size", 64)
    uri = log_trace_model(Path(model_dir), run_id, (image, image), int(config["model"].get("horizon", -1)))
    card = model_cards.world_model_card(report, tags, config)
    version = registry.register(model, uri, tags, card=card, about=model_cards.WORLD_ABOUT)
    return {"model": model, "version": version, "alias": registry.CHALLENGER, "uri": uri, "score": score,
            "champion_score": champion, "metric": metric}


def promote_version(version: str | None, force: bool = False, who: str = "", model: str = WORLD_MODEL,
                    tolerance: float = 0.0) -> registry.Promotion:
    """Promote `version` (default: the challenger) using the gate scores recorded on it at registration."""
    from mlflow import MlflowClient

    version = version or registry.alias_version(model, registry.CHALLENGER)
    if version is None:
        raise ValueError(f"{model}: no version given and no '{registry.CHALLENGER}' alias to promote")
    tags = MlflowClient().get_model_version(model, version).tags
    if "eval.score" not in tags:
        raise ValueError(f"{model} v{version}: no eval.score tag; register it with its evaluation report first")
    champion = tags.get("eval.champion_score")
    if champion is None and registry.alias_version(model, registry.CHAMPION) not in (None, version):
        raise ValueError(f"{model} v{version} was not evaluated against the current champion on the same test "
                         "episodes (mu0 evaluate traces --champion, or policy --champion), so the gate cannot "
                         "compare them")
    return registry.promote(model, version, float(tags["eval.score"]), None if champion is None else float(champion),
                            tags.get("eval.metric", GATE_METRIC), force, who, tolerance)


def policy_gate_scores(report: dict, name: str) -> tuple[float, float | None]:
    """(challenger's failure rate, the champion's on the same tasks and seeds or None)."""
    policies = report["policies"]
    if name not in policies:
        raise ValueError(f"the policy report has no policy '{name}' (it has {sorted(policies)})")
    champion = policies.get("champion", {}).get("mean_success")
    return 1.0 - float(policies[name]["mean_success"]), None if champion is None else 1.0 - float(champion)


def _world_trace_sources(record: dict) -> dict:
    """The trace sources the policy's μ_0 recorded, when its folder is still where training found it."""
    folder = Path(record.get("world_model") or "")
    return read_record(folder).get("trace_sources", {}) if str(folder) not in ("", ".") else {}


def publish_policy(model_dir: Path, report_path: Path, validation_path: Path | None, run_id: str,
                   parent_run_id: str | None, name: str, repo: Path = Path("."), model: str = POLICY_MODEL) -> dict:
    """Log + register a fine-tuned policy as the challenger, gated on its closed-loop failure rate."""
    report = json.loads(Path(report_path).read_text())
    validation = json.loads(validation_path.read_text()) if validation_path and validation_path.exists() else None
    config = {"policy": read_config(model_dir), "train": read_record(model_dir)}
    score, champion = policy_gate_scores(report, name)
    entry = report["policies"][name]
    tags = lineage_tags(config, validation, parent_run_id, repo)
    tags.update({"eval.metric": POLICY_METRIC, "eval.score": f"{score:.6g}", "eval.mean_success":
                 f"{entry['mean_success']:.6g}", "eval.tasks": ",".join(report["tasks"]),
                 "eval.seeds": f"{report['seeds'][0]}..{report['seeds'][-1]}", "lineage.run_id": run_id,
                 "lineage.world_model": config["train"].get("world_model", "")})
    if champion is not None:
        tags["eval.champion_score"] = f"{champion:.6g}"
    size = int(config["train"].get("image_size", 64))
    uri = log_policy_model(Path(model_dir), run_id, (size, size), config["policy"])
    card = model_cards.policy_card(report, name, tags, config, _world_trace_sources(config["train"]))
    version = registry.register(model, uri, tags, card=card, about=model_cards.POLICY_ABOUT)
    return {"model": model, "version": version, "alias": registry.CHALLENGER, "uri": uri, "score": score,
            "champion_score": champion, "metric": POLICY_METRIC, "mean_success": entry["mean_success"]}
