"""Model registry: register a version as `challenger`, promote it to `champion` through a gate.

Aliases only (stages are deprecated in MLflow 3). The gate compares the challenger's score with the
champion's on the same test episodes — both come from one evaluation report that scored both models —
and refuses a worse model, recording the reason as a version tag. A manual override needs an explicit
flag and is recorded too. Each version can carry a markdown description (its model card, written by the
caller) and the registered model one of its own, set once. Works on names, run ids and dicts; knows nothing
about the models themselves.
"""

from __future__ import annotations

import dataclasses
import logging

log = logging.getLogger(__name__)
CHALLENGER, CHAMPION = "challenger", "champion"


@dataclasses.dataclass(frozen=True)
class Promotion:
    model: str
    version: str
    promoted: bool
    reason: str
    champion_before: str | None


def _client():
    from mlflow import MlflowClient

    return MlflowClient()


def alias_version(model: str, alias: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(_client().get_model_version_by_alias(model, alias).version)
    except MlflowException:
        return None


def describe_model(model: str, about: str) -> None:
    """Create `model` with the description `about`, or give an existing one that has none; never overwrite a
    description someone wrote in the UI."""
    from mlflow.exceptions import MlflowException

    client = _client()
    try:
        client.create_registered_model(model, description=about or None)
    except MlflowException:  # it exists
        if about and not client.get_registered_model(model).description:
            client.update_registered_model(model, description=about)


def register(model: str, model_uri: str, tags: dict[str, str], alias: str = CHALLENGER, card: str = "",
             about: str = "") -> str:
    """Register a logged model (its URI) as a new version of `model` with `tags` and the markdown `card` as its
    description, alias it; the version. `about` describes the registered model itself (set once)."""
    import mlflow

    describe_model(model, about)
    version = str(mlflow.register_model(model_uri, model, tags=tags).version)
    client = _client()
    if card:
        client.update_model_version(model, version, description=card)
    client.set_registered_model_alias(model, alias, version)
    return version


def gate(challenger: float, champion: float | None, metric: str, tolerance: float = 0.0) -> tuple[bool, str]:
    """Lower is better. Passes without a champion, or when the challenger is not worse than it by more
    than `tolerance` (relative)."""
    if champion is None:
        return True, f"no champion yet; {metric} {challenger:.5f}"
    if challenger <= champion * (1 + tolerance):
        return True, f"{metric} {challenger:.5f} <= champion's {champion:.5f}"
    return False, f"{metric} {challenger:.5f} is worse than the champion's {champion:.5f}"


def promote(model: str, version: str, challenger_score: float, champion_score: float | None, metric: str,
            force: bool = False, who: str = "", tolerance: float = 0.0) -> Promotion:
    """Move `champion` to `version` if the gate passes (or `force`); record the decision as tags."""
    client = _client()
    before = alias_version(model, CHAMPION)
    if before == version:
        return Promotion(model, version, False, f"version {version} already is the champion", before)
    passed, reason = gate(challenger_score, champion_score, metric, tolerance)
    client.set_model_version_tag(model, version, f"eval.{metric}", f"{challenger_score:.6g}")
    if not passed and not force:
        client.set_model_version_tag(model, version, "promotion.refused", reason)
        log.info("%s v%s not promoted: %s", model, version, reason)
        return Promotion(model, version, False, reason, before)
    if not passed:
        reason = f"manual override by {who or 'unknown'}: {reason}"
        client.set_model_version_tag(model, version, "promotion.override", reason)
    client.set_model_version_tag(model, version, "promotion.accepted", reason)
    client.set_registered_model_alias(model, CHAMPION, version)
    if before is not None:
        client.set_model_version_tag(model, before, "promotion.replaced_by", version)
    return Promotion(model, version, True, reason, before)
