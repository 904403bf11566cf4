"""Configs of the ingest stage: Meta-World, video files, S3, and where episodes go."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from mu0.config.base import require

MT10_TASKS: tuple[str, ...] = (
    "reach-v3",
    "push-v3",
    "pick-place-v3",
    "door-open-v3",
    "drawer-open-v3",
    "drawer-close-v3",
    "button-press-topdown-v3",
    "peg-insert-side-v3",
    "window-open-v3",
    "window-close-v3",
)
# The tasks beyond MT10 that DESIGN.md §8 allows for training, "for scaling and variety"; the other 13 of MT50
# are reserved for the finished system's held-out evaluation, so nothing trains or tunes on them.
VARIETY_TASKS: tuple[str, ...] = tuple(f"{name}-v3" for name in (
    "assembly", "basketball", "button-press-topdown-wall", "button-press", "button-press-wall", "coffee-button",
    "coffee-pull", "disassemble", "door-close", "faucet-close", "handle-press-side", "handle-press",
    "handle-pull-side", "lever-pull", "peg-unplug-side", "pick-out-of-hole", "pick-place-wall",
    "plate-slide-back-side", "plate-slide-back", "plate-slide", "push-wall", "reach-wall", "shelf-place", "soccer",
    "stick-pull", "sweep-into", "sweep"))



@dataclasses.dataclass(frozen=True)
class MetaWorldSourceConfig:
    """Roll out Meta-World v3 scripted experts and render them offscreen."""

    # Meta-World v3 task names (e.g. reach-v3); `MT10` and `MT50` expand to those benchmark task sets,
    # `TRAINABLE` to MT10 + the 27 further tasks DESIGN.md §8 allows for training (MT50 without its reserved 13).
    tasks: tuple[str, ...] = MT10_TASKS
    # Rollouts per task; each rollout gets its own seed (seed + index), which picks the object/goal layout.
    episodes_per_task: int = 2
    # Cameras rendered every step; one episode per (rollout, camera). Aimed static cameras:
    # front, side, overhead; Meta-World's own: gripperPOV (moves with the wrist), behindGripper, topview, corner*.
    cameras: tuple[str, ...] = ("front", "gripperPOV")
    # Square image size in pixels (height = width).
    size: int = 128
    # Hard cap on environment steps per rollout (Meta-World's own limit is 500).
    max_steps: int = 150
    # Steps still recorded after the first success, so the episode shows the settled end state.
    steps_after_success: int = 10
    # Base seed; rollout i of a task uses seed + i. Recorded in meta.json.
    seed: int = 0
    # Std of Gaussian noise added to the expert's actions (0 = the pure scripted expert).
    action_noise: float = 0.0
    # Worker processes for rollouts (each renders its own offscreen GL context).
    workers: int = 1
    # Ground truth: a per-pixel body-id map every this many frames from frame 0 (given-query tracking
    # evaluation picks its query frames among them); 0 = frame 0 only.
    body_ids_every: int = 10
    # Render the task's goal marker (Meta-World's `goal` site, the only site drawn): where reach, push and
    # pick-place must bring the hand or the object, which nothing else in their images shows. Off, those
    # goals are invisible and a policy that sees only the image and proprio can hit them by chance alone;
    # real videos carry no markers either. Recorded in meta.json; rollouts show what the demos showed.
    goal_marker: bool = False

    def __post_init__(self) -> None:
        require(len(self.tasks) > 0, "tasks", "at least one task is needed")
        require(self.body_ids_every >= 0, "body_ids_every", "must be >= 0")
        require(self.episodes_per_task >= 1, "episodes_per_task", "must be >= 1")
        require(len(self.cameras) > 0, "cameras", "at least one camera is needed")
        require(len(set(self.cameras)) == len(self.cameras), "cameras", "duplicate camera names")
        require(16 <= self.size <= 1024, "size", f"must be within 16..1024 px, got {self.size}")
        require(1 <= self.max_steps <= 500, "max_steps", f"must be within 1..500, got {self.max_steps}")
        require(self.steps_after_success >= 0, "steps_after_success", "must be >= 0")
        require(self.action_noise >= 0.0, "action_noise", "must be >= 0")
        require(self.workers >= 1, "workers", "must be >= 1")


@dataclasses.dataclass(frozen=True)
class VideoSourceConfig:
    """Decode video files or image folders (plus optional depth and camera sidecars) into episodes."""

    # Frame rate used when the container does not say (image folders) and no sidecar gives one.
    fps: float = 10.0
    # Horizontal field of view in degrees used to build K when no intrinsics sidecar exists:
    # fx = fy = 0.5 * W / tan(hfov / 2), principal point at the image centre.
    default_hfov_deg: float = 60.0
    # Downscale so the longer image side is at most this many pixels (intrinsics scaled to match); 0 = keep.
    max_side: int = 0
    # Keep every n-th decoded frame (e.g. 3 turns 15 Hz DROID video into 5 Hz).
    frame_stride: int = 1
    # Instruction used when the sidecar JSON has none.
    default_instruction: str = ""
    # Metres per unit of 16-bit PNG depth (0.001 = millimetres) when the sidecar does not say.
    png_depth_scale: float = 0.001

    def __post_init__(self) -> None:
        require(self.fps > 0, "fps", "must be > 0")
        require(0 < self.default_hfov_deg < 180, "default_hfov_deg", "must be within (0, 180)")
        require(self.max_side >= 0, "max_side", "must be >= 0 (0 keeps the size)")
        require(self.frame_stride >= 1, "frame_stride", "must be >= 1")
        require(self.png_depth_scale > 0, "png_depth_scale", "must be > 0")


@dataclasses.dataclass(frozen=True)
class S3SourceConfig:
    """List and download videos (and their sidecars) under an s3:// prefix."""

    # Video decoding options applied to every downloaded video.
    video: VideoSourceConfig = VideoSourceConfig()
    # Attempts per object before it is quarantined (network errors and checksum mismatches).
    max_attempts: int = 4
    # Seconds before the first retry; doubles on every further attempt.
    retry_backoff_s: float = 0.5

    def __post_init__(self) -> None:
        require(self.max_attempts >= 1, "max_attempts", "must be >= 1")
        require(self.retry_backoff_s >= 0, "retry_backoff_s", "must be >= 0")


@dataclasses.dataclass(frozen=True)
class IngestOutput:
    """Where ingested episodes go and whether the result is versioned with DVC."""

    # Folder that receives one sub-folder per episode (DVC tracks data/raw through data.dvc).
    out: Path = Path("data/raw")
    # Folder for notes about episodes that could not be ingested (reason, source, time).
    quarantine: Path = Path("data/quarantine")
    # After ingesting, `dvc commit` the data and push it to the configured DVC remote.
    version: bool = True
