"""Log a trace model or a policy folder as an MLflow pyfunc model with a typed signature and an input example.

The logged model carries what it needs to serve anywhere: the mu0 package itself as code (MLflow puts it on the
path when it loads the model) and pinned requirements of what serving imports, so `mlflow models serve
--env-manager virtualenv` answers from a clean environment without mu0 installed.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from mu0.bundle.files import STATS_FILE
from mu0.serving.signatures import policy_example, policy_signature, trace_example, trace_signature

ARTIFACT = "model"
# What mu0's serving path imports (the models, their bundles, the wrappers), pinned to this environment's
# versions when a model is logged; mlflow itself MLflow adds.
SERVING_DISTRIBUTIONS = ("torch", "numpy", "scipy", "safetensors", "transformers", "tokenizers", "huggingface_hub")


def serving_requirements() -> list[str]:
    """Pinned requirements, public versions (torch's local "+cpu" label dropped, so any build of it fits)."""
    return [f"{name}=={importlib.metadata.version(name).split('+')[0]}" for name in SERVING_DISTRIBUTIONS]


def mu0_package() -> str:
    """The folder of the mu0 package that is running (source checkout or installed wheel alike)."""
    import mu0

    return str(Path(mu0.__file__).resolve().parent)


def _log(code: str, model_dir: Path, run_id: str, signature, example: dict) -> str:
    """Log the wrapper `code` (models-from-code) with `model_dir` as its artifact into run `run_id`."""
    import mlflow

    with mlflow.start_run(run_id=run_id):
        info = mlflow.pyfunc.log_model(name=ARTIFACT, python_model=str(Path(__file__).with_name(code)),
                                       artifacts={"model": str(model_dir)}, signature=signature,
                                       input_example=example, pip_requirements=serving_requirements(),
                                       code_paths=[mu0_package()])
    return info.model_uri


def log_trace_model(model_dir: Path, run_id: str, image_hw: tuple[int, int] = (64, 64), horizon: int = -1) -> str:
    """Log `model_dir` into run `run_id` as pyfunc under artifact path "model"; returns the model URI."""
    return _log("trace_model_code.py", model_dir, run_id, trace_signature(horizon), trace_example(image_hw))


def log_policy_model(model_dir: Path, run_id: str, image_hw: tuple[int, int], policy: dict) -> str:
    """Log a policy folder (`policy`: its config.json) into run `run_id` as pyfunc; returns the model URI."""
    # The wrapper only returns μ_0's tracks when the folder has the statistics that put them in pixels.
    traces = bool(policy.get("use_trace")) and (Path(model_dir) / STATS_FILE).exists()
    example = policy_example(image_hw, int(policy["proprio_dim"]), bool(policy.get("wrist_tokens", 0)))
    return _log("policy_model_code.py", model_dir, run_id, policy_signature(policy, traces), example)
