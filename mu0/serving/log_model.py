"""Log a trace model or a policy folder as an MLflow pyfunc model with a signature and an input example."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mu0.serving import policy_pyfunc, trace_pyfunc

ARTIFACT = "model"


def example_input(image_hw: tuple[int, int] = (64, 64)):
    import pandas as pd

    image = np.zeros((*image_hw, 3), np.uint8)
    return pd.DataFrame({"image_png_b64": [trace_pyfunc.encode_png(image)], "instruction": ["push the puck"],
                         "points_px": [json.dumps([[10.0, 12.0], [30.0, 20.0]])]})


def log_trace_model(model_dir: Path, run_id: str, image_hw: tuple[int, int] = (64, 64)) -> str:
    """Log `model_dir` into run `run_id` as pyfunc under artifact path "model"; returns the model URI."""
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature

    code = Path(__file__).with_name("trace_model_code.py")
    output = pd.DataFrame({"trace_px": ["[]"], "depth_delta_m": ["[]"]})
    signature = infer_signature(example_input(image_hw), output)
    with mlflow.start_run(run_id=run_id):
        info = mlflow.pyfunc.log_model(name=ARTIFACT, python_model=str(code), artifacts={"model": str(model_dir)},
                                       signature=signature, input_example=example_input(image_hw),
                                       pip_requirements=[])
    return info.model_uri


def example_policy_input(image_hw: tuple[int, int] = (64, 64), proprio_dim: int = 4, wrist: bool = False):
    """An input row; with `wrist`, the wrist camera's image too (a policy with wrist tokens needs it)."""
    import pandas as pd

    image = trace_pyfunc.encode_png(np.zeros((*image_hw, 3), np.uint8))
    columns = {"image_png_b64": [image], "instruction": ["open the drawer"],
               "proprio": [json.dumps([0.0] * proprio_dim)]}
    return pd.DataFrame({**columns, **({policy_pyfunc.WRIST_COLUMN: [image]} if wrist else {})})


def log_policy_model(model_dir: Path, run_id: str, image_hw: tuple[int, int], proprio_dim: int,
                     wrist: bool = False) -> str:
    """Log a policy folder into run `run_id` as pyfunc under artifact path "model"; returns the model URI."""
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature

    code = Path(__file__).with_name("policy_model_code.py")
    example = example_policy_input(image_hw, proprio_dim, wrist)
    signature = infer_signature(example, pd.DataFrame({"actions": ["[]"], "trace_px": ["[]"]}))
    with mlflow.start_run(run_id=run_id):
        info = mlflow.pyfunc.log_model(name=ARTIFACT, python_model=str(code), artifacts={"model": str(model_dir)},
                                       signature=signature, input_example=example, pip_requirements=[])
    return info.model_uri
