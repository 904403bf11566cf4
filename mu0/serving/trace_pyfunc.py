"""μ_0 (or any trace model) as an MLflow pyfunc: an image, an instruction and query pixels in, traces out.

Input rows (a DataFrame, or JSON `dataframe_split` over HTTP): `image_png_b64` (a base64 PNG), `instruction`
and `points_px` (JSON list of [x, y] pixels). Output rows: `trace_px` (JSON, per point `horizon` steps of
[x, y] pixels) and `depth_delta_m` (JSON, per point and step, metres relative to the query point).
The model folder travels as an artifact; the wrapper is logged as code (models-from-code), so nothing is
unpickled when it loads.
"""

from __future__ import annotations

import base64
import io
import json

import numpy as np

from mu0.batch import HISTORY, HISTORY_VALID, IMAGE, INSTRUCTION, POINT_MASK, POINTS_UV

INPUT_COLUMNS = ("image_png_b64", "instruction", "points_px")


def encode_png(image: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, np.uint8)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _decode_png(text: str) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(base64.b64decode(text))).convert("RGB"))


class TracePyfunc:
    """Implements mlflow.pyfunc.PythonModel's load_context/predict (mlflow is imported by the caller)."""

    def load_context(self, context) -> None:
        from pathlib import Path

        from mu0.bundle.trace_bundle import load_trace_bundle

        bundle = load_trace_bundle(Path(context.artifacts["model"]))
        self.model, self.scale = bundle.model, bundle.scale

    def predict(self, context, model_input, params=None):
        import pandas as pd
        import torch

        missing = [c for c in INPUT_COLUMNS if c not in model_input.columns]
        if missing:
            raise ValueError(f"input lacks columns {missing}; expected {list(INPUT_COLUMNS)}")
        rows = []
        cfg = self.model.cfg
        for _, row in model_input.iterrows():
            image = _decode_png(row["image_png_b64"])
            h, w = image.shape[:2]
            pts = np.asarray(json.loads(row["points_px"]), np.float32).reshape(-1, 2)
            uv = np.stack([(pts[:, 0] + 0.5) * 2 / w - 1, (pts[:, 1] + 0.5) * 2 / h - 1], -1)
            n = len(pts)
            batch = {IMAGE: torch.from_numpy(image.copy()).permute(2, 0, 1)[None],
                     INSTRUCTION: [str(row["instruction"])], POINTS_UV: torch.from_numpy(uv)[None],
                     POINT_MASK: torch.ones(1, n, dtype=torch.bool),
                     HISTORY: torch.zeros(1, n, cfg.history, 3),
                     HISTORY_VALID: torch.zeros(1, n, cfg.history, dtype=torch.bool)}
            with torch.no_grad():
                delta = (self.model.predict(batch, 1)[0, 0] * self.scale).numpy()  # (n,h,3)
            xy = (uv[:, None] + delta[..., :2] + 1) * np.array([w, h]) / 2 - 0.5
            rows.append({"trace_px": json.dumps(np.round(xy, 3).tolist()),
                         "depth_delta_m": json.dumps(np.round(delta[..., 2], 5).tolist())})
        return pd.DataFrame(rows)
