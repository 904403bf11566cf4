"""μ_0 (or any trace model) as an MLflow pyfunc: an image, an instruction and query pixels in, traces out.

Inputs and outputs are the named tensors of `signatures.trace_signature` (MLflow checks their shapes and
dtypes before `predict` runs): `image` (b,H,W,3) uint8, `instruction` (b,), `points_px` (b,n,2) float32;
out `traces` (b,n,h,3) float32, per point and step its pixel (x, y) and depth change in metres relative to
the query point. Each trace is one flow sample (seed torch for repeatable answers); history is not an input,
so the model sees none. The model folder travels as an artifact; the wrapper is logged as code
(models-from-code), so nothing is unpickled when it loads.
"""

from __future__ import annotations

import numpy as np

from mu0.batch import HISTORY, HISTORY_VALID, IMAGE, INSTRUCTION, POINT_MASK, POINTS_UV
from mu0.serving import signatures as io
from mu0.traces.normalize import to_unit_uv


def require_inputs(model_input, names: tuple[str, ...]) -> None:
    """MLflow's schema already refuses a missing input; this names it for a wrapper called directly."""
    missing = [name for name in names if name not in model_input]
    if missing:
        raise ValueError(f"input lacks {missing}; expected {list(names)}")


class TracePyfunc:
    """Implements mlflow.pyfunc.PythonModel's load_context/predict (mlflow is imported by the caller)."""

    def load_context(self, context) -> None:
        from pathlib import Path

        from mu0.bundle.trace_bundle import load_trace_bundle

        bundle = load_trace_bundle(Path(context.artifacts["model"]))
        self.model, self.scale = bundle.model, bundle.scale

    def predict(self, context, model_input, params=None) -> dict[str, np.ndarray]:
        require_inputs(model_input, (io.IMAGE, io.INSTRUCTION, io.POINTS_PX))
        images, points = model_input[io.IMAGE], model_input[io.POINTS_PX]
        rows = [self._trace(images[i], str(model_input[io.INSTRUCTION][i]), np.asarray(points[i], np.float32))
                for i in range(len(images))]
        return {io.TRACES: np.stack(rows).astype(np.float32)}

    def _trace(self, image: np.ndarray, instruction: str, points_px: np.ndarray) -> np.ndarray:
        """One query: (n,h,3) pixel x, y and depth change in metres per point and future step."""
        import torch

        h, w = image.shape[:2]
        uv = to_unit_uv(points_px, (h, w)).astype(np.float32)
        n, cfg = len(uv), self.model.cfg
        batch = {IMAGE: torch.from_numpy(np.array(image, np.uint8)).permute(2, 0, 1)[None],
                 INSTRUCTION: [instruction], POINTS_UV: torch.from_numpy(uv)[None],
                 POINT_MASK: torch.ones(1, n, dtype=torch.bool), HISTORY: torch.zeros(1, n, cfg.history, 3),
                 HISTORY_VALID: torch.zeros(1, n, cfg.history, dtype=torch.bool)}
        with torch.no_grad():
            delta = (self.model.predict(batch, 1)[0, 0] * self.scale).numpy()  # (n,h,3)
        xy = (uv[:, None] + delta[..., :2] + 1) * np.array([w, h]) / 2 - 0.5
        return np.concatenate([xy, delta[..., 2:]], axis=-1)
