"""A fine-tuned action expert as an MLflow pyfunc: an image, an instruction and the robot's proprio in, the
next chunk of actions out (plus, for a trace-conditioned policy, the μ_0 traces it was conditioned on).

Inputs and outputs are the named tensors of `signatures.policy_signature` (MLflow checks their shapes and
dtypes before `predict` runs): `image` (b,H,W,3) uint8, `instruction` (b,), `proprio` (b,q) float32 (e.g.
Meta-World's hand xyz and gripper) and, for a policy with wrist tokens, `wrist_image` (b,H,W,3) uint8; out
`actions` (b,c,a) float32 in [-1, 1] and, for a trace-conditioned policy, `trace_px` (b,g,h+1,2) float32.
"""

from __future__ import annotations

import numpy as np

from mu0.serving import signatures as io
from mu0.serving.trace_pyfunc import require_inputs


class PolicyPyfunc:
    """Implements mlflow.pyfunc.PythonModel's load_context/predict (mlflow is imported by the caller)."""

    def load_context(self, context) -> None:
        from pathlib import Path

        from mu0.bundle.policy_bundle import PolicyRunner

        self.runner = PolicyRunner(Path(context.artifacts["model"]))

    @property
    def inputs(self) -> tuple[str, ...]:
        wrist = (io.WRIST_IMAGE,) if self.runner.processor.wrist_camera else ()
        return (io.IMAGE, io.INSTRUCTION, io.PROPRIO) + wrist

    def predict(self, context, model_input, params=None) -> dict[str, np.ndarray]:
        require_inputs(model_input, self.inputs)
        planned = [self._plan(model_input, i) for i in range(len(model_input[io.IMAGE]))]
        out = {io.ACTIONS: np.stack([actions for actions, _ in planned]).astype(np.float32)}
        if all(tracks is not None for _, tracks in planned):
            out[io.TRACE_PX] = np.stack([tracks for _, tracks in planned]).astype(np.float32)
        return out

    def _plan(self, model_input, i: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Row i's actions (c,a) and, for a trace-conditioned policy, μ_0's grid tracks (g,h+1,2)."""
        wrist = model_input[io.WRIST_IMAGE][i] if io.WRIST_IMAGE in self.inputs else None
        proprio = np.asarray(model_input[io.PROPRIO][i], np.float32).reshape(-1)
        return self.runner.plan(model_input[io.IMAGE][i], proprio, str(model_input[io.INSTRUCTION][i]), wrist)
