"""Prefect tasks: each is one call into mu0 (the CLI stage or a library function)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from prefect import task

from flows.common import retry_on_io, run_stage


@task(retries=2, retry_delay_seconds=5, retry_condition_fn=retry_on_io)
def ingest(preset: str, source: str) -> None:
    """`source`: "metaworld", "s3://bucket/prefix", "video PATH...", or "none" (use data/raw as it is,
    e.g. after `dvc pull`)."""
    import shlex

    if source != "none":
        run_stage("ingest", "--preset", preset, *shlex.split(source))


def _episode_key(context, parameters) -> str:
    """Same input, config, extractor code and output still there → same key → the cached result."""
    from mu0.config import to_dict
    from mu0.trace_extract.pipeline import code_hash, config_hash

    raw, out = Path(parameters["raw"]), Path(parameters["out"])
    meta = json.loads((raw / "meta.json").read_text())
    done = out / raw.name / "meta.json"
    produced = json.loads(done.read_text()).get("extract", {}).get("input_hash", "") if done.exists() else ""
    state = "present" if produced and produced == meta.get("content_hash") else "missing"
    cfg = parameters["cfg"]
    parts = [meta.get("content_hash", ""), config_hash(cfg), code_hash(), state, json.dumps(to_dict(cfg))]
    return "extract-" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


@task(cache_key_fn=_episode_key, persist_result=True, retries=1, retry_condition_fn=retry_on_io)
def extract_episode(raw: Path, out: Path, quarantine: Path, cfg) -> dict:
    import dataclasses

    from mu0.trace_extract.pipeline import extract_episode as run

    return dataclasses.asdict(run(Path(raw), Path(out), Path(quarantine), cfg))


@task
def validate(preset: str) -> None:
    run_stage("validate", "--preset", preset)


@task
def pretrain(preset: str, overrides: list[str], out: str, kind: str = "mu0") -> None:
    """A retried task resumes from `out`'s checkpoints; a new chain run trains in a new `out`."""
    run_stage("pretrain", "--kind", kind, "--preset", preset, "--out", out, *overrides)


@task
def evaluate(preset: str, model: str, baselines: list[str]) -> None:
    run_stage("evaluate", "traces", "--preset", preset, "--model", model, "--baselines", *baselines, "--champion",
              "--samples", "3")


@task
def finetune(preset: str, mode: str, out: str, world_model: str, init_from: str = "") -> None:
    """An action expert on the action-labelled episodes of data/raw (trace-conditioned, scratch, or from an
    action-pretrained policy)."""
    run_stage("finetune", "--mode", mode, "--preset", preset, "--out", out, "--world-model", world_model,
              *(["--init-from", init_from] if init_from else []))


@task
def evaluate_policy(preset: str, policies: dict[str, str]) -> dict:
    """Closed-loop Meta-World rollouts of every policy and the champion policy, on the same seeds."""
    run_stage("evaluate", "policy", "--preset", preset, "--champion", "--policies",
              *[f"{name}={folder}" for name, folder in policies.items()])
    return json.loads(Path("reports/policy_metrics.json").read_text())


@task(retries=2, retry_delay_seconds=5, retry_condition_fn=retry_on_io)
def register(model: str) -> dict:
    run_stage("register", "--model", model)
    return json.loads(Path("reports/registration.json").read_text())


@task(retries=2, retry_delay_seconds=5, retry_condition_fn=retry_on_io)
def register_policy(model: str, name: str) -> dict:
    run_stage("register", "--target", "policy", "--model", model, "--policy-name", name)
    return json.loads(Path("reports/policy_registration.json").read_text())


@task
def promote(force: bool, reason: str, model: str = "mu0-world-model") -> dict:
    from mu0.cli import main

    code = main(["promote", "--model", model, *(["--force", "--reason", reason] if force else [])])
    from mu0.mlops.registry import CHAMPION, alias_version

    return {"promoted": code == 0, "champion": alias_version(model, CHAMPION)}
