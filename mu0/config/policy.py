"""Configs of the action expert (a policy on a frozen μ_0), its fine-tuning and its closed-loop evaluation."""

from __future__ import annotations

import dataclasses

from mu0.config.base import require
from mu0.config.model import WorldModelConfig

POLICY_MODES = ("trace", "scratch")
TRACE_TOKENS = ("states", "waypoints", "both")  # how μ_0's forecast reaches the action decoder
TRACE_QUERIES = ("grid", "moving")  # where μ_0 is queried for the waypoint tokens


@dataclasses.dataclass(frozen=True)
class ActionExpertConfig:
    """A flow-matching action-chunk decoder over a VLM prefix; with `use_trace`, the prefix first reads the
    frozen μ_0's trace features through a gated cross-attention that starts closed."""

    # The μ_0 whose backbone shape the policy uses and, with use_trace, whose frozen trace features it reads.
    world: WorldModelConfig = WorldModelConfig()
    # Read μ_0's trace features (the trace-conditioned policy); false is the same decoder without them, on a
    # trainable backbone of the same shape (scratch, or the action-pretrained model).
    use_trace: bool = True
    # With use_trace: the decoder reads its own trainable copy of the backbone, started from μ_0's backbone
    # weights, instead of μ_0's frozen prefix (μ_0's trace features still come from the frozen μ_0). The
    # same visual path as scratch, plus μ_0's pretraining and traces.
    train_backbone: bool = False
    # μ_0 is queried on a grid × grid lattice of keypoints over the image (the recipe: 20×20).
    grid: int = 8
    # The grid's features are average-pooled pool × pool into (grid / pool)² trace tokens (the recipe: 2).
    pool: int = 2
    # Euler steps of μ_0 run for the features (the recipe's "partial trace guidance": 1 of 4).
    trace_steps: int = 1
    # How μ_0's forecast reaches the decoder: "states" (the recipe) — the keypoints' future states, pooled, read
    # by the prefix through the gated cross-attention; "waypoints" — the forecast itself, one context token per
    # grid keypoint made of its (u, v) and `waypoints` predicted (Δu, Δv, Δdepth) along the horizon, which the
    # decoder attends to directly, with no gate to open; "both".
    trace_tokens: str = "states"
    # With waypoint tokens: predicted waypoints per grid keypoint along the horizon.
    waypoints: int = 8
    # Which keypoints the waypoint tokens carry: "grid" — the grid × grid lattice; "moving" — μ_0 is queried on
    # a finer `candidates` × `candidates` lattice and the grid² keypoints it forecasts to move farthest are kept
    # (meant to find the gripper and what it acts on without the simulator's segmentation; the 12000-step `small`
    # μ_0 puts them mostly on the far background, where it was hardly ever queried: docs/results.md). Waypoint
    # tokens only: the gated states are pooled on the lattice.
    trace_queries: str = "grid"
    # With trace_queries "moving": the candidate lattice's side (the recipe queries a 20×20 grid).
    candidates: int = 16
    # Waypoint tokens also at the hand: μ_0 is queried on a hand_queries × hand_queries lattice centred on the
    # hand's pixel (proprio's hand xyz through the camera's calibration, which the policy keeps), each a token
    # marked as the hand's by a learned embedding; 0: none. The recipe queries the points it cares about; the
    # hand's forecast path is the plan an action follows. Needs waypoint tokens and one static camera.
    hand_queries: int = 0
    # Spacing of the hand lattice in unit image coordinates ([-1, 1] across the image; 0.1 ≈ 6 px at 128 px).
    hand_spacing: float = 0.1
    # Which proprio entries are the hand's world position (x, y, z) in metres (Meta-World: the first three).
    hand_xyz: tuple[int, int, int] = (0, 1, 2)
    # The wrist camera's image as wrist_tokens × wrist_tokens context tokens (0: the decoder sees no wrist view;
    # the recipe: 8): its stride-4 feature map, average-pooled, projected, with learned positions. A trace
    # policy reads it through μ_0's frozen scene encoder (as the recipe reads it through μ_0's frozen DINOv2);
    # scratch, action-pretrained and a μ_0 without a scene encoder train their own of the same shape.
    wrist_tokens: int = 0
    # Decoder token width.
    width: int = 64
    # Decoder layers.
    layers: int = 3
    # Decoder attention heads.
    heads: int = 4
    # Actions per predicted chunk.
    chunk: int = 8
    # Action size (Meta-World: 4).
    action_dim: int = 4
    # Proprio size (Meta-World: 4).
    proprio_dim: int = 4
    # Euler steps when sampling an action chunk (the recipe: 10).
    flow_steps: int = 10

    def __post_init__(self) -> None:
        require(self.width % self.heads == 0, "width", "must be divisible by heads")
        require(self.grid >= 1 and self.pool >= 1 and self.grid % self.pool == 0, "grid",
                f"must be a positive multiple of pool ({self.pool}), got {self.grid}")
        require(self.chunk >= 1 and self.action_dim >= 1 and self.proprio_dim >= 1, "chunk",
                "chunk, action_dim and proprio_dim must be >= 1")
        require(self.flow_steps >= 1 and self.trace_steps >= 1, "flow_steps", "flow and trace steps must be >= 1")
        require(self.trace_tokens in TRACE_TOKENS, "trace_tokens", f"must be one of {', '.join(TRACE_TOKENS)}")
        require(1 <= self.waypoints <= self.world.horizon, "waypoints",
                f"must be within [1, the world model's horizon {self.world.horizon}]")
        require(self.trace_queries in TRACE_QUERIES, "trace_queries",
                f"must be one of {', '.join(TRACE_QUERIES)}")
        require(self.trace_queries == "grid" or self.trace_tokens == "waypoints", "trace_queries",
                "\"moving\" queries need trace_tokens \"waypoints\" (the gated states are pooled on the grid)")
        require(self.trace_queries == "grid" or self.candidates >= self.grid, "candidates",
                f"must be at least grid ({self.grid}): the moving keypoints are chosen among them")
        require(self.hand_queries >= 0, "hand_queries", "must be >= 0 (0 = no hand keypoints)")
        require(not self.hand_queries or self.trace_tokens != "states", "hand_queries",
                "hand keypoints are waypoint tokens: set trace_tokens \"waypoints\" or \"both\"")
        require(len(self.hand_xyz) == 3 and all(0 <= i < self.proprio_dim for i in self.hand_xyz), "hand_xyz",
                f"must be three proprio indices within [0, {self.proprio_dim})")
        require(self.wrist_tokens >= 0, "wrist_tokens", "must be >= 0 (0 = no wrist view)")


@dataclasses.dataclass(frozen=True)
class PolicyDataConfig:
    """Which action-labelled episodes (with robot.npz) train the policy, and how samples are cut from them."""

    # Demonstrations per task (rollouts, lowest seeds first; 0 = all of them).
    demos_per_task: int = 10
    # Camera the policy sees (episodes of other cameras are ignored).
    camera: str = "front"
    # The wrist camera, for a policy with --policy.wrist-tokens: each demonstration's episode of this camera
    # (same task and seed) gives its wrist frames; rollouts render it.
    wrist_camera: str = "gripperPOV"
    # Tasks to train on (empty = every task found).
    tasks: tuple[str, ...] = ()
    # Keep only rollouts whose scripted expert succeeded.
    successful_only: bool = True
    # Samples carry their (episode, frame), so a trace policy reads each with frozen μ_0 once and reuses that
    # reading every epoch (checked against the sample's inputs each time); off for samples that change between
    # epochs.
    reuse_forecasts: bool = True

    def __post_init__(self) -> None:
        require(self.demos_per_task >= 0, "demos_per_task", "must be >= 0 (0 = all)")


@dataclasses.dataclass(frozen=True)
class RolloutConfig:
    """Closed-loop evaluation in Meta-World: M episodes per task with fixed, recorded seeds."""

    # Tasks to roll out (empty = the tasks the policy was trained on).
    tasks: tuple[str, ...] = ()
    # Episodes per task; episode i of a task uses seed `seed + i` (disjoint from the training seeds).
    episodes_per_task: int = 10
    # First evaluation seed (episodes use seed, seed + 1, ...).
    seed: int = 100_000
    # Environment steps before an episode counts as a failure.
    max_steps: int = 150
    # Actions executed from each predicted chunk before re-planning (receding horizon; the recipe: 8 of 16).
    execute: int = 4
    # Parallel worker processes (each with its own simulator, renderer and policy copy).
    workers: int = 2
    # Episodes per task saved as videos with the predicted traces drawn on the frames.
    videos_per_task: int = 1

    def __post_init__(self) -> None:
        require(self.episodes_per_task >= 1, "episodes_per_task", "must be >= 1")
        require(1 <= self.max_steps <= 500, "max_steps", "must be within 1..500")
        require(self.execute >= 1, "execute", "must be >= 1")
        require(self.workers >= 1, "workers", "must be >= 1")
        require(self.videos_per_task >= 0, "videos_per_task", "must be >= 0")
