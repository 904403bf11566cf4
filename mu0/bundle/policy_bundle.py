"""A policy's folder and what runs it: the action expert (with its frozen μ_0), the processor its training
recorded (camera, wrist camera, image size, μ_0's delta statistics for drawing traces, demo seeds and tasks,
the camera's calibration for a policy that queries μ_0 at the hand) and `plan(frame, proprio, instruction)` —
what rollouts and serving both call, so both feed the policy the same way (as lerobot keeps a policy's
pre/post-processors with the policy)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import torch

from mu0.bundle.files import PROTOCOL_FILE, STATS_FILE
from mu0.bundle.read import read_record
from mu0.bundle.save import save_folder
from mu0.episodes.cameras import world_to_pixels
from mu0.models.action_expert import ActionExpert
from mu0.traces.normalize import DeltaStats, to_unit_uv


@dataclasses.dataclass(frozen=True)
class PolicyProcessor:
    """What the policy was trained to see, read from its train_config.json (defaults: older folders)."""

    camera: str = "front"
    wrist_camera: str | None = None  # the second camera a policy with wrist tokens sees
    image_size: int = 64
    scale_xy: tuple[float, float] | None = None  # μ_0's (u, v) delta scale: its traces in image units
    train_seeds: frozenset[int] = frozenset()
    tasks: tuple[str, ...] = ()
    trace_reading: dict = dataclasses.field(default_factory=dict)  # how much its decoder read μ_0
    world_holdout_tasks: tuple[str, ...] = ()  # tasks its μ_0 never saw
    calibration: dict | None = None  # the static camera's intrinsics, extrinsics, height, width (hand queries)
    goal_marker: bool = False  # its demonstrations showed the goal marker, so its rollouts show it too

    @classmethod
    def read(cls, folder: Path, wrist_tokens: int) -> PolicyProcessor:
        record = read_record(folder)
        data, demos = record.get("policy_data", {}), record.get("demos", {})
        stats = Path(folder) / STATS_FILE
        return cls(camera=data.get("camera", "front"),
                   wrist_camera=data.get("wrist_camera", "gripperPOV") if wrist_tokens else None,
                   image_size=int(record.get("image_size", 64)),
                   scale_xy=tuple(DeltaStats.load(stats).scale[:2]) if stats.exists() else None,
                   train_seeds=frozenset(int(s) for task in demos.values() for s in task["seeds"] if s is not None),
                   tasks=tuple(sorted(demos)), trace_reading=record.get("trace_reading", {}),
                   world_holdout_tasks=tuple(record.get("world_holdout_tasks", [])),
                   calibration=record.get("camera_calibration"), goal_marker=bool(record.get("goal_marker", False)))

    def hand_uv(self, proprio: np.ndarray, hand_xyz: tuple[int, int, int]) -> np.ndarray:
        """The hand's unit pixel (2,) in the policy's camera, through the calibration its training recorded."""
        if self.calibration is None:
            raise ValueError("this policy queries μ_0 at the hand but its folder records no camera calibration "
                             "(train_config.json: camera_calibration)")
        c = self.calibration
        return hand_unit_uv(proprio, hand_xyz, np.asarray(c["intrinsics"]), np.asarray(c["extrinsics"]),
                            (c["height"], c["width"]))


def hand_unit_uv(proprio: np.ndarray, hand_xyz: tuple[int, int, int], intrinsics: np.ndarray,
                 extrinsics: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """The hand's pixel (...,2) in unit coordinates from proprio (...,p) and the camera (leading axes broadcast):
    how training reads it from each demo frame's camera and a running policy from its recorded calibration."""
    xyz = np.asarray(proprio, np.float64)[..., list(hand_xyz)]
    return to_unit_uv(world_to_pixels(xyz, intrinsics, extrinsics), hw).astype(np.float32)


def traces_to_px(grid_uv: np.ndarray, trace: np.ndarray, scale_xy: tuple[float, float],
                 hw: tuple[int, int]) -> np.ndarray:
    """Grid keypoints (n,2) unit uv + normalised trace deltas (n,h,≥2) → pixel tracks (n,h+1,2), anchor first."""
    h, w = hw
    uv = grid_uv[:, None, :] + trace[..., :2] * np.asarray(scale_xy, np.float32)
    uv = np.concatenate([grid_uv[:, None, :], uv], axis=1)
    return np.stack([(uv[..., 0] + 1) * w / 2 - 0.5, (uv[..., 1] + 1) * h / 2 - 0.5], axis=-1)


class PolicyRunner:
    """A loaded policy plus its processor: `plan(frame, proprio, instruction)`."""

    def __init__(self, folder: Path, threads: int | None = None) -> None:
        if threads:
            torch.set_num_threads(threads)
        self.folder = Path(folder)
        self.policy = ActionExpert.from_pretrained(self.folder).eval()
        self.cfg = self.policy.cfg
        self.processor = PolicyProcessor.read(self.folder, self.cfg.wrist_tokens)
        self.generator = torch.Generator().manual_seed(0)

    def plan(self, frame: np.ndarray, proprio: np.ndarray, instruction: str,
             wrist_frame: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Actions (c,a) and, for a trace-conditioned policy, μ_0's grid tracks in pixels (n,h+1,2).
        `wrist_frame`: the wrist camera's RGB frame, for a policy with wrist tokens."""
        image, wrist = (None if f is None else torch.from_numpy(np.array(f, np.uint8)).permute(2, 0, 1)[None]
                        for f in (frame, wrist_frame))  # writable copies
        noise = torch.randn(1, self.cfg.chunk, self.cfg.action_dim, generator=self.generator)
        out = self.policy.act(image, [instruction], torch.from_numpy(np.asarray(proprio, np.float32))[None], noise,
                              wrist=wrist, hand_uv=self._hand_uv(proprio))
        tracks = None
        scale_xy = self.processor.scale_xy
        if "trace" in out and scale_xy is not None:
            tracks = traces_to_px(out["grid_uv"][0].numpy(), out["trace"][0].numpy(), scale_xy, frame.shape[:2])
        return out["actions"][0].numpy(), tracks

    def trace_reading(self, frame: np.ndarray, proprio: np.ndarray, instruction: str,
                      wrist_frame: np.ndarray | None = None) -> dict[str, float]:
        """How much these weights' decoder reads μ_0 on this observation (ActionExpert.trace_reading); the
        random state is restored, so asking does not change the rollout."""
        if not self.cfg.use_trace:
            return {}
        image, wrist = (None if f is None else torch.from_numpy(np.array(f, np.uint8)).permute(2, 0, 1)[None]
                        for f in (frame, wrist_frame))
        state = torch.from_numpy(np.asarray(proprio, np.float32))[None]
        with torch.random.fork_rng():
            return self.policy.trace_reading(image, [instruction], state, wrist=wrist, hand_uv=self._hand_uv(proprio))

    def _hand_uv(self, proprio: np.ndarray) -> torch.Tensor | None:
        """(1,2) the hand's unit pixel for a policy with hand queries, else None."""
        if not (self.cfg.use_trace and self.cfg.hand_queries):
            return None
        return torch.from_numpy(self.processor.hand_uv(np.asarray(proprio), self.cfg.hand_xyz))[None]


def save_policy_bundle(policy: ActionExpert, folder: Path, mu0_folder: Path | None, record: dict) -> Path:
    """The policy's weights, `record` and, from its μ_0's folder, the statistics that turn μ_0's normalised
    traces into pixels and (for a trace policy) the protocol that says what those traces mean; atomically."""
    def fill(staging: Path) -> None:
        policy.save_pretrained(staging)
        for name in (STATS_FILE, PROTOCOL_FILE) if policy.cfg.use_trace else (STATS_FILE,):
            if mu0_folder is not None and (Path(mu0_folder) / name).exists():
                shutil.copy2(Path(mu0_folder) / name, staging / name)

    return save_folder(folder, fill, record)
