"""A fine-tuned action expert as an MLflow pyfunc: an image, an instruction and the robot's proprio in, the
next chunk of actions out (plus, for a trace-conditioned policy, the μ_0 traces it was conditioned on).

Input rows: `image_png_b64` (a base64 PNG at the policy's training size), `instruction`, `proprio` (JSON list
of the robot state, e.g. Meta-World's hand xyz and gripper), and for a policy with wrist tokens
`wrist_png_b64` (the wrist camera's frame). Output rows: `actions` (JSON, chunk × action
dim, in [-1, 1]) and `trace_px` (JSON, per grid keypoint its pixel track; "[]" without traces).
"""

from __future__ import annotations

import json

import numpy as np

from mu0.serving.trace_pyfunc import _decode_png

INPUT_COLUMNS = ("image_png_b64", "instruction", "proprio")
WRIST_COLUMN = "wrist_png_b64"  # only for a policy with wrist tokens


class PolicyPyfunc:
    """Implements mlflow.pyfunc.PythonModel's load_context/predict (mlflow is imported by the caller)."""

    def load_context(self, context) -> None:
        from pathlib import Path

        from mu0.bundle.policy_bundle import PolicyRunner

        self.runner = PolicyRunner(Path(context.artifacts["model"]))

    def predict(self, context, model_input, params=None):
        import pandas as pd

        expected = INPUT_COLUMNS + ((WRIST_COLUMN,) if self.runner.processor.wrist_camera else ())
        missing = [c for c in expected if c not in model_input.columns]
        if missing:
            raise ValueError(f"input lacks columns {missing}; expected {list(expected)}")
        dim = self.runner.cfg.proprio_dim
        rows = []
        for i, row in model_input.iterrows():
            proprio = np.asarray(json.loads(row["proprio"]), np.float32).reshape(-1)
            if len(proprio) != dim:
                raise ValueError(f"row {i}: proprio has {len(proprio)} values, the policy expects {dim}")
            wrist = _decode_png(row[WRIST_COLUMN]) if self.runner.processor.wrist_camera else None
            actions, tracks = self.runner.plan(_decode_png(row["image_png_b64"]), proprio, str(row["instruction"]),
                                               wrist)
            rows.append({"actions": json.dumps(np.round(actions, 5).tolist()),
                         "trace_px": json.dumps([] if tracks is None else np.round(tracks, 2).tolist())})
        return pd.DataFrame(rows)
