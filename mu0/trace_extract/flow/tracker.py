"""Points moved by the learned flow network instead of DIS (the rest is the dense-flow tracker's): the
network sees both RGB frames, the first frame's depth and the flow the camera alone would cause, so it
only has to find what moves in the world, which it learned from simulated ground truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mu0.trace_extract.dense_flow import DenseFlowTracker
from mu0.trace_extract.flow.camera_flow import camera_flow
from mu0.trace_extract.point_tracker import SceneGeometry


class LearnedFlowTracker(DenseFlowTracker):
    def __init__(self, *args, weights: Path | str, **kwargs) -> None:
        from mu0.trace_extract.flow.network import load_flow_net  # torch only when this tracker is used

        super().__init__(*args, **kwargs)
        self.net, self.info = load_flow_net(weights)
        self.weights = Path(weights)
        self._frame_of: dict[int, int] = {}

    def _begin(self, images: np.ndarray, grays: list[np.ndarray], geometry: SceneGeometry | None) -> None:
        super()._begin(images, grays, geometry)
        if geometry is None:
            raise ValueError(f"motion 'learned' ({self.weights}) needs the episode's depth and camera poses")
        self._images, self._geometry = images, geometry
        self._frame_of = {id(g): i for i, g in enumerate(grays)}

    def _pair_flow(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        import torch

        from mu0.trace_extract.flow.network import flow_inputs

        fa, fb = self._frame_of[id(a)], self._frame_of[id(b)]
        h, w = a.shape
        cam = camera_flow(self._geometry, fa, fb, h, w)
        x = flow_inputs(np.ascontiguousarray(self._images[fa]), np.ascontiguousarray(self._images[fb]),
                        self._geometry.depth_map(fa), cam)
        with torch.no_grad():
            residual, _ = self.net(torch.from_numpy(x[None]))
        return (np.where(np.isfinite(cam), cam, 0.0) + residual[0].numpy().transpose(1, 2, 0)).astype(np.float32)
