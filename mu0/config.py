"""Frozen configuration dataclasses for every stage; presets live in `presets.py`.

The comment above each field is what `mu0 <command> --help` prints for it (tyro reads them), so it
says what the option means and in which unit. Validation happens in `__post_init__` and names the
field, so a bad value fails at parse time, not half-way through a run.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

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


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the field."""


def _require(condition: bool, field: str, problem: str) -> None:
    if not condition:
        raise ConfigError(f"config field '{field}': {problem}")


@dataclasses.dataclass(frozen=True)
class MetaWorldSourceConfig:
    """Roll out Meta-World v3 scripted experts and render them offscreen."""

    # Meta-World v3 task names (e.g. reach-v3); `MT10` and `MT50` expand to those benchmark task sets.
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

    def __post_init__(self) -> None:
        _require(len(self.tasks) > 0, "tasks", "at least one task is needed")
        _require(self.episodes_per_task >= 1, "episodes_per_task", "must be >= 1")
        _require(len(self.cameras) > 0, "cameras", "at least one camera is needed")
        _require(len(set(self.cameras)) == len(self.cameras), "cameras", "duplicate camera names")
        _require(16 <= self.size <= 1024, "size", f"must be within 16..1024 px, got {self.size}")
        _require(1 <= self.max_steps <= 500, "max_steps", f"must be within 1..500, got {self.max_steps}")
        _require(self.steps_after_success >= 0, "steps_after_success", "must be >= 0")
        _require(self.action_noise >= 0.0, "action_noise", "must be >= 0")
        _require(self.workers >= 1, "workers", "must be >= 1")


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
        _require(self.fps > 0, "fps", "must be > 0")
        _require(0 < self.default_hfov_deg < 180, "default_hfov_deg", "must be within (0, 180)")
        _require(self.max_side >= 0, "max_side", "must be >= 0 (0 keeps the size)")
        _require(self.frame_stride >= 1, "frame_stride", "must be >= 1")
        _require(self.png_depth_scale > 0, "png_depth_scale", "must be > 0")


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
        _require(self.max_attempts >= 1, "max_attempts", "must be >= 1")
        _require(self.retry_backoff_s >= 0, "retry_backoff_s", "must be >= 0")


@dataclasses.dataclass(frozen=True)
class IngestOutput:
    """Where ingested episodes go and whether the result is versioned with DVC."""

    # Folder that receives one sub-folder per episode (DVC tracks data/raw through data.dvc).
    out: Path = Path("data/raw")
    # Folder for notes about episodes that could not be ingested (reason, source, time).
    quarantine: Path = Path("data/quarantine")
    # After ingesting, `dvc commit` the data and push it to the configured DVC remote.
    version: bool = True


@dataclasses.dataclass(frozen=True)
class TraceExtractConfig:
    """TraceExtract: keypoints → 2D tracks → 3D lift → world alignment → samples → captions."""

    # Seed spacing in pixels: at most one keypoint per grid cell of this size (the coverage grid too).
    grid_px: int = 4
    # Keypoints need a corner strength (min eigenvalue of the structure tensor) of at least this
    # fraction of the frame's strongest corner; lower finds points on weak texture.
    min_texture: float = 0.002
    # Most tracks alive at once.
    max_tracks: int = 800
    # Lucas–Kanade window size in pixels (odd).
    lk_window_px: int = 9
    # Lucas–Kanade pyramid levels above the full-resolution image.
    lk_levels: int = 2
    # A point is lost when tracking it forward then backward misses its start by more than this (pixels).
    fb_max_error_px: float = 0.75
    # With depth and poses: a point counts as static while LK, run over a 6-frame gap, lands within this
    # many pixels of where its world anchor projects (three misses in a row make it a moving point).
    static_px: float = 2.0
    # Every this many frames, new keypoints are seeded where no live track covers the grid cell.
    reseed_every: int = 2
    # Depth is sampled in a (2r+1)² window, from the surface of the pixel nearest the point.
    depth_window_px: int = 1
    # Window depths within this distance of the nearest pixel's depth are the same surface (metres).
    depth_surface_tol_m: float = 0.02
    # A tracked point whose depth jumps by more than this between frames (metres, plus 5% of depth)
    # has slid onto an occluder or off an edge: the track ends there.
    depth_jump_m: float = 0.03
    # Camera poses: "given" uses the episode's extrinsics, "estimate" fits them to static tracks
    # (3D-3D RANSAC), "auto" uses given poses unless meta.json says they are unknown.
    poses: str = "auto"
    # Inlier distance for pose RANSAC (metres).
    pose_ransac_m: float = 0.01
    # Losing more than this fraction of live tracks between two frames means the camera jumped (a cut).
    jump_lost_fraction: float = 0.8
    # A track is "moving" when its world position moves more than this (metres) over the episode.
    moving_threshold_m: float = 0.015
    # For 2D-only episodes: motion threshold in pixels, after removing the median image motion.
    moving_threshold_px: float = 3.0
    # Reject an episode whose tracks cover less than this fraction of the grid, averaged over frames.
    min_coverage: float = 0.25
    # Episodes with fewer frames are rejected (with the reason) rather than traced.
    min_frames: int = 8
    # One sample set every this many frames (the query frames).
    query_stride: int = 2
    # Most keypoints stored per query frame; moving ones first.
    max_points_per_frame: int = 128
    # Future horizon in steps of traj / raw_traj (index 0 is the query frame).
    future_len: int = 128
    # History horizon in steps of traj_history / raw_traj_history (time-reversed, index 0 = query frame).
    history_len: int = 32
    # Arc-length retargeting: one step per this much robust path length (normalised image units).
    retarget_interval: float = 0.05
    # The robust per-segment length is the mean over the fastest this-fraction of tracks.
    retarget_top_fraction: float = 0.02
    # Shortest motion chunk (frames) a caption describes; shorter ones merge into a neighbour.
    min_chunk_frames: int = 8
    # Longest motion chunk (frames); longer ones are split (unless that exceeds max_chunks).
    max_chunk_frames: int = 60
    # Most motion chunks per episode.
    max_chunks: int = 6
    # Episodes processed in parallel (processes).
    workers: int = 1

    def __post_init__(self) -> None:
        _require(self.grid_px >= 2, "grid_px", "must be >= 2")
        _require(self.lk_window_px >= 3 and self.lk_window_px % 2 == 1, "lk_window_px", "must be odd and >= 3")
        _require(self.poses in ("auto", "given", "estimate"), "poses", "must be auto, given or estimate")
        _require(self.query_stride >= 1, "query_stride", "must be >= 1")
        _require(self.min_frames >= 2, "min_frames", "must be >= 2")
        _require(self.future_len >= 2 and self.history_len >= 1, "future_len", "horizons must be >= 2 / >= 1")
        _require(0 < self.retarget_top_fraction <= 1, "retarget_top_fraction", "must be within (0, 1]")
        _require(self.retarget_interval > 0, "retarget_interval", "must be > 0")
        _require(0 <= self.min_coverage <= 1, "min_coverage", "must be within [0, 1]")
        _require(1 <= self.min_chunk_frames <= self.max_chunk_frames, "min_chunk_frames",
                 "must be >= 1 and <= max_chunk_frames")
        _require(self.workers >= 1, "workers", "must be >= 1")


@dataclasses.dataclass(frozen=True)
class ValidationConfig:
    """Great Expectations checks on raw episodes and trace datasets, and the gate they feed."""

    # Largest plausible metric depth (metres) and frame rate range accepted in raw episodes.
    max_depth_m: float = 20.0
    min_fps: float = 1.0
    max_fps: float = 500.0
    # Per query frame: bounds on the number of keypoints and on the share of moving ones.
    min_points_per_frame: int = 1
    max_points_per_frame: int = 4096
    min_moving_fraction: float = 0.0
    max_moving_fraction: float = 1.0
    # If more than this share of episodes fails, the failure is systemic: the gate fails the run
    # instead of quarantining them one by one.
    max_bad_fraction: float = 0.25
    # Drift: each of the 10/50/90th percentiles of trace length, speed and depth may move by this
    # fraction of the accepted value (plus a small absolute slack) before the dataset counts as drifted.
    drift_tolerance: float = 0.3
    # Rows sampled per statistic for the drift checks (and stored with an accepted dataset).
    drift_sample: int = 200_000

    def __post_init__(self) -> None:
        _require(self.max_depth_m > 0, "max_depth_m", "must be > 0")
        _require(0 < self.min_fps < self.max_fps, "min_fps", "must be > 0 and < max_fps")
        _require(0 <= self.max_bad_fraction <= 1, "max_bad_fraction", "must be within [0, 1]")
        _require(self.drift_tolerance > 0, "drift_tolerance", "must be > 0")


@dataclasses.dataclass(frozen=True)
class TraceDataConfig:
    """How trace episodes become training samples for μ_0 (one sample = one query frame)."""

    # Query keypoints per sample (padded with a mask when a frame has fewer).
    num_points: int = 32
    # Future steps predicted (retargeted steps after the query frame).
    horizon: int = 32
    # History steps given to the model (before the query frame).
    history: int = 8
    # Percentile of |Δ| per axis used to normalise anchor-relative future targets (the recipe: 95).
    delta_percentile: float = 95.0
    # Probability that a training sample gets no history at all, and that one keypoint loses its history.
    history_drop_all: float = 0.5
    history_drop_point: float = 0.3
    # Fractions of episodes in train / val / test; the rest of 1.0 goes to test.
    train_fraction: float = 0.8
    val_fraction: float = 0.1
    # Whole tasks held out for testing generalisation (their episodes are all in test).
    holdout_tasks: tuple[str, ...] = ()
    # Seed of the split and of sampling in val/test (train sampling is random per epoch).
    seed: int = 0

    def __post_init__(self) -> None:
        _require(self.num_points >= 1, "num_points", "must be >= 1")
        _require(self.horizon >= 1 and self.history >= 1, "horizon", "horizon and history must be >= 1")
        _require(0 < self.delta_percentile <= 100, "delta_percentile", "must be within (0, 100]")
        _require(0 <= self.history_drop_all <= 1 and 0 <= self.history_drop_point <= 1, "history_drop_all",
                 "dropout probabilities must be within [0, 1]")
        _require(self.train_fraction > 0 and self.val_fraction >= 0 and self.train_fraction + self.val_fraction <= 1,
                 "train_fraction", "train > 0, val >= 0 and train + val <= 1")


@dataclasses.dataclass(frozen=True)
class BackboneConfig:
    """The vision-language backbone: a SmolVLM/Idefics3-family model from transformers."""

    # Tiny text model: width, layers, attention heads, key-value heads.
    text_hidden: int = 64
    text_layers: int = 2
    text_heads: int = 4
    text_kv_heads: int = 2
    # Tiny vision tower: width, layers, input image size and patch size (pixels).
    vision_hidden: int = 64
    vision_layers: int = 2
    image_size: int = 64
    patch_size: int = 8
    # Keep the backbone's weights fixed (the recipe trains the expert only).
    freeze: bool = False
    # Most instruction tokens (the recipe: 48).
    max_text_tokens: int = 48

    def __post_init__(self) -> None:
        _require(self.image_size % self.patch_size == 0, "image_size", "must be a multiple of patch_size")
        _require((self.image_size // self.patch_size) % 2 == 0, "patch_size",
                 "image_size / patch_size must be even (the connector merges 2×2 patches)")


@dataclasses.dataclass(frozen=True)
class TraceExpertConfig:
    """The trace expert: per keypoint a history and a future token, attending to the backbone prefix."""

    width: int = 64
    layers: int = 4
    heads: int = 4
    # Cubic B-spline control points over the horizon, and the knot vector ("mu0" or "uniform").
    num_ctrl: int = 10
    knots: str = "mu0"
    # First-difference regulariser and clip of the fitted target control points (the recipe: 0.2, 1.5).
    reg_lambda: float = 0.2
    ctrl_clip: float = 1.5
    # Log-spaced frequencies of the Fourier embedding of the keypoint's (u, v).
    fourier_freqs: int = 8
    # Weight of the done-head BCE loss (the recipe: 0.5).
    done_weight: float = 0.5
    # Weight of the rigidity loss: keypoints of one moving entity keep their distances across control
    # points, measured on normalised control points as the recipe does (the recipe: 5; 0 turns it off).
    rigidity_weight: float = 0.0
    # Euler steps when sampling (the recipe evaluates with 4).
    inference_steps: int = 4

    def __post_init__(self) -> None:
        _require(self.width % self.heads == 0, "width", "must be divisible by heads")
        _require(self.knots in ("mu0", "uniform"), "knots", "must be 'mu0' or 'uniform'")
        _require(self.inference_steps >= 1, "inference_steps", "must be >= 1")


@dataclasses.dataclass(frozen=True)
class WorldModelConfig:
    """Everything that defines a μ_0 model's shape; saved as its config.json."""

    backbone: BackboneConfig = BackboneConfig()
    expert: TraceExpertConfig = TraceExpertConfig()
    # Future steps the model predicts and history steps it reads (match the trace data's).
    horizon: int = 32
    history: int = 8


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation of μ_0 with DeepSpeed (the recipe: AdamW β=(0.9, 0.95), lr 1e-4, clip 10, warmup,
    cosine decay), scaled down."""

    steps: int = 200
    micro_batch: int = 8
    grad_accumulation: int = 1
    lr: float = 1e-4
    min_lr: float = 2.5e-6
    warmup_steps: int = 20
    weight_decay: float = 1e-10
    grad_clip: float = 10.0
    # ZeRO stage of infra/deepspeed/zero<stage>.json (0 on a CPU; 1-3 shard optimizer/gradients/weights).
    zero_stage: int = 0
    # Save a resumable checkpoint every this many steps (0: only at the end).
    checkpoint_every: int = 50
    # Log metrics every this many steps.
    log_every: int = 10
    # DataLoader worker processes.
    num_workers: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        _require(self.steps >= 1 and self.micro_batch >= 1, "steps", "steps and micro_batch must be >= 1")
        _require(self.grad_accumulation >= 1, "grad_accumulation", "must be >= 1")
        _require(self.zero_stage in (0, 1, 2, 3), "zero_stage", "must be 0, 1, 2 or 3")
        _require(0 < self.min_lr <= self.lr, "min_lr", "must be > 0 and <= lr")


@dataclasses.dataclass(frozen=True)
class Mu0Config:
    """The resolved configuration of a whole run; presets build one, the CLI overrides its fields."""

    # Name of the preset this configuration started from.
    preset: str = "tiny"
    metaworld: MetaWorldSourceConfig = MetaWorldSourceConfig()
    video: VideoSourceConfig = VideoSourceConfig()
    s3: S3SourceConfig = S3SourceConfig()
    output: IngestOutput = IngestOutput()
    extract: TraceExtractConfig = TraceExtractConfig()
    validate: ValidationConfig = ValidationConfig()
    data: TraceDataConfig = TraceDataConfig()
    model: WorldModelConfig = WorldModelConfig()
    train: TrainConfig = TrainConfig()


def to_dict(config: object) -> dict:
    """A JSON-ready dict of a (nested) config dataclass; paths become strings, tuples lists."""

    def convert(value: object) -> object:
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, (tuple, list)):
            return [convert(v) for v in value]
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        return value

    return convert(dataclasses.asdict(config))  # type: ignore[arg-type]
