"""The typed MLflow signatures of the served models, and an input example for each.

Every input and output is a named tensor with a leading batch dimension b (-1: any size); other -1s are
free too. MLflow itself enforces a tensor signature before the wrapper runs: a missing input, a wrong rank,
a wrong fixed dimension or a wrong dtype is refused (MlflowException, error code INVALID_PARAMETER_VALUE;
HTTP 400 from `mlflow models serve`). Over HTTP, send `{"inputs": {name: nested lists}}`: the server casts
each list to its tensor's dtype first.

Trace model: image (b,H,W,3) uint8 RGB, instruction (b,) str, points_px (b,n,2) float32 query pixels (x, y);
out traces (b,n,h,3) float32: per point and future step its pixel (x, y) and depth change in metres.
Policy: image (b,H,W,3) uint8, instruction (b,) str, proprio (b,q) float32, and wrist_image (b,H,W,3) uint8
for a policy with wrist tokens; out actions (b,c,a) float32 in [-1, 1] and, for a trace-conditioned policy,
trace_px (b,g,h+1,2) float32: μ_0's tracks of its g grid keypoints in pixels, the keypoint first.
"""

from __future__ import annotations

import numpy as np

from mu0.batch import IMAGE, INSTRUCTION, PROPRIO, WRIST_IMAGE  # the batch's names; images here are (b,H,W,3)

POINTS_PX = "points_px"  # pixels, where the batch has unit coordinates (POINTS_UV)
TRACES, ACTIONS, TRACE_PX = "traces", "actions", "trace_px"
_ANY = -1


def _tensor(dtype, shape: tuple[int, ...], name: str):
    from mlflow.types.schema import TensorSpec

    return TensorSpec(np.dtype(dtype), shape, name)


def _image(name: str = IMAGE):
    return _tensor(np.uint8, (_ANY, _ANY, _ANY, 3), name)


def _instruction():
    return _tensor(str, (_ANY,), INSTRUCTION)  # np.dtype(str): MLflow's size-free string tensor


def trace_signature(horizon: int = _ANY):
    """The trace model's signature; `horizon`: the model's future steps (-1: not fixed)."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Schema

    inputs = Schema([_image(), _instruction(), _tensor(np.float32, (_ANY, _ANY, 2), POINTS_PX)])
    return ModelSignature(inputs, Schema([_tensor(np.float32, (_ANY, _ANY, horizon, 3), TRACES)]))


def trace_example(image_hw: tuple[int, int] = (64, 64)) -> dict[str, np.ndarray]:
    return {IMAGE: np.zeros((1, *image_hw, 3), np.uint8), INSTRUCTION: np.array(["push the puck"]),
            POINTS_PX: np.array([[[10.0, 12.0], [30.0, 20.0]]], np.float32)}


def policy_signature(policy: dict, traces: bool):
    """A policy's signature from its config.json (`policy`); `traces`: it also returns μ_0's grid tracks.
    The proprio and action sizes are fixed, so MLflow refuses a robot state of the wrong size."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Schema

    inputs = [_image(), _instruction(), _tensor(np.float32, (_ANY, int(policy["proprio_dim"])), PROPRIO)]
    if int(policy.get("wrist_tokens", 0)):
        inputs.append(_image(WRIST_IMAGE))
    outputs = [_tensor(np.float32, (_ANY, int(policy["chunk"]), int(policy["action_dim"])), ACTIONS)]
    if traces:
        outputs.append(_tensor(np.float32, (_ANY, _ANY, _ANY, 2), TRACE_PX))
    return ModelSignature(Schema(inputs), Schema(outputs))


def policy_example(image_hw: tuple[int, int] = (64, 64), proprio_dim: int = 4,
                   wrist: bool = False) -> dict[str, np.ndarray]:
    """One observation; with `wrist`, the wrist camera's frame too (a policy with wrist tokens needs it)."""
    image = np.zeros((1, *image_hw, 3), np.uint8)
    example = {IMAGE: image, INSTRUCTION: np.array(["open the drawer"]),
               PROPRIO: np.zeros((1, proprio_dim), np.float32)}
    return {**example, WRIST_IMAGE: image.copy()} if wrist else example
