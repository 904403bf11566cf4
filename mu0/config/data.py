"""Configs of the data stages after ingest: TraceExtract, validation, and training samples."""

from __future__ import annotations

import dataclasses

from mu0.config.base import require

TRACKERS = ("lk", "groundtruth", "auto")


@dataclasses.dataclass(frozen=True)
class TraceExtractConfig:
    """TraceExtract: keypoints → 2D tracks → 3D lift → world alignment → samples → captions."""

    # Where tracks come from: "lk" is TraceExtract's own tracker (keypoints, Lucas–Kanade, depth lifting);
    # "groundtruth" carries frame-0 pixels along the simulator's body poses (simulated episodes only: an
    # episode without gt/ is refused); "auto" uses groundtruth where gt/ exists and lk elsewhere.
    tracker: str = "lk"
    # groundtruth tracker: seed grid spacing in pixels.
    gt_grid_px: int = 8
    # groundtruth tracker: most extra seeds on every body seen in frame 0 (the recipe samples 48 points per
    # entity), so small parts such as finger pads get points.
    gt_points_per_body: int = 48
    # Seed spacing in pixels: at most one keypoint per grid cell of this size (the coverage grid too).
    grid_px: int = 4
    # Keypoints need a corner strength (min eigenvalue of the structure tensor) of at least this
    # fraction of the frame's strongest corner; lower finds points on weak texture.
    min_texture: float = 0.002
    # Most tracks alive at once.
    max_tracks: int = 800
    # With depth: keypoints are seeded only more than this many pixels from a depth discontinuity (0: only off
    # the edge pixels themselves, so a 6-px pad or a thin link gets points). Against 3 px (tuning tasks, front /
    # wrist): moving-body coverage 0.34 / 0.43 → 0.89 / 1.00, wrist `is_moving` precision 0.78 → 0.87 and false
    # motion 0.26 → 0.14, at a cost on the front camera (precision and recall 0.90 / 0.90 → 0.83 / 0.83, false
    # motion 0.09 → 0.15); 1 px lies between (docs/results.md, TraceExtract).
    seed_edge_px: int = 0
    # How TraceExtract's tracker moves a point from frame to frame: "lk" (pyramidal Lucas–Kanade on the
    # point's window) or "dis" (OpenCV's DIS dense optical flow, whose variational refinement fills
    # textureless regions), both with the forward–backward check below; or "template" (needs depth and
    # camera poses, else LK): each point's rigid 3D neighbourhood fitted to every frame's colour and depth
    # (template_tracking.py). Given moving queries, tasks not tuned on, front / wrist: δ_avg 0.40 / 0.14 (lk)
    # → 0.52 / 0.24; but its wrist tracks label static table points as moving (precision 0.15) and it is
    # ~35× slower than lk, so not the default yet (README, TraceExtract); or "learned" (needs depth and camera
    # poses and `flow_weights`): a flow network trained on simulator ground truth, read like DIS flow
    # (best on the wrist camera, worst on the front, 26× slower than lk; docs/results.md).
    motion: str = "lk"
    # motion "learned": the flow network's weights (safetensors, trained with `mu0 train-flow` on simulated
    # episodes' ground truth; flow/), read like DIS flow. Needs depth and camera poses.
    flow_weights: str = ""
    # motion "template": a point's template holds the pixels within this radius (and `template_near_m` of it).
    template_radius_px: int = 5
    # motion "template": metres from the point within which neighbours join its template.
    template_near_m: float = 0.04
    # motion "template": every this many pixels of the neighbourhood's rows and columns go into the template.
    template_stride_px: int = 1
    # motion "template": Gauss–Newton iterations per frame.
    template_iters: int = 8
    # motion "template": residual units per metre of depth error (a 100% colour error = 1).
    template_depth_weight: float = 10.0
    # Lucas–Kanade window size in pixels (odd).
    lk_window_px: int = 9
    # Lucas–Kanade pyramid levels above the full-resolution image.
    lk_levels: int = 2
    # A point is lost when tracking it forward then backward misses its start by more than this (pixels).
    fb_max_error_px: float = 0.75
    # With depth and poses: a point counts as static while LK, run over a 6-frame gap, lands within this
    # many pixels of where its world anchor projects (three misses in a row make it a moving point).
    static_px: float = 2.0
    # With depth and poses: a static point whose pixel shows a surface behind it (its own has moved away)
    # becomes a moving point at once, instead of after the gap check's three misses. Given moving queries
    # on the front camera: δ_avg 0.355 → 0.415 (tuning tasks), 0.376 → 0.399 (others); wrist camera
    # 0.176 → 0.173 and 0.105 → 0.100 (README, TraceExtract).
    leave_when_uncovered: bool = True
    # With depth and poses: a static point whose pixel shows a surface more than this many metres nearer or farther
    # than its anchor at `departure_confirm` departure checks in a row is a moving one (0 = off): a uniformly
    # coloured surface sliding along itself keeps its colour at the pixel, not its depth. The 3D trace takes each
    # point where the tracker has it (a static point's anchor), so this is how such a point's motion reaches it.
    # Tuning tasks, front / wrist: `is_moving` precision 0.895 / 0.894 → 0.954 / 0.926, recall 0.837 / 0.782 →
    # 0.774 / 0.740, false motion 0.025 / 0.101 → 0.041 / 0.059 (with 0.005: wrist false motion 0.101; 0.02: front
    # recall 0.661; docs/results.md, TraceExtract).
    depth_departure_m: float = 0.01
    # How a static point is found to move: "gap" runs LK from `check_gap` frames back and compares with the
    # anchor; "path" follows the point frame to frame with LK from its own last LK position and compares
    # that path with the anchor.
    departure: str = "gap"
    # Whether the "gap" check also runs where the camera moves. Off: there a static point's anchor reprojects a
    # fraction of a pixel off and LK over the gap slides on the grazing table, so its departures were wrong: on
    # the tuning tasks' wrist camera 232 of 232 (seeds 2–5) and 46 of 50 (seeds 0–1) extracted-moving rows of
    # the points it made move were truly static. Off, wrist false motion 0.082 / 0.059 → 0.057 / 0.048, `is_moving`
    # precision 0.913 / 0.926 → 0.934 / 0.940, recall 0.763 / 0.740 → 0.761 / 0.744; the front camera is unchanged
    # (docs/results.md, TraceExtract).
    gap_departures_moving_camera: bool = False
    # LK window (odd pixels) of the departure checks alone (0: `lk_window_px`). A small window keeps static
    # points still (too little of it to be pulled along by a passing arm) while moving points are followed
    # with the larger one; it errs less, so two departures suffice (`departure_confirm`). Against 9 px and 3
    # (tuning tasks, 128 px, front / wrist): false motion 0.29 / 0.43 → 0.09 / 0.21, `is_moving` precision
    # 0.78 / 0.64 → 0.90 / 0.83 at the same recall, given moving queries' δ_avg 0.398 / 0.163 → 0.386 / 0.160
    # (docs/results.md, TraceExtract).
    departure_window_px: int = 3
    # Departures in a row (of the check above) that make a static point a moving one. Three since LK follows the
    # surface's shape (`lk_shape_gain`), whose checks see more departures, wrongly too: two give tuning tasks'
    # false motion 0.10 / 0.15 (front / wrist) against 0.04 / 0.12, for δ_avg 0.508 against 0.485 (front).
    departure_confirm: int = 3
    # With depth: a departure counts only where the point's own surface (its patch's pixels at its depth) matches
    # LK's new place better than its anchor's projection: a static point next to a moving silhouette, whose
    # small window the passing part drags along, stays put. False motion, front / wrist: 0.15 / 0.14 → 0.04 /
    # 0.11 (tuning tasks), 0.17 / 0.19 → 0.05 / 0.13 (others), recall and δ_avg unchanged (docs/results.md).
    departure_surface: bool = True
    # Where LK fails, keep a point in place when its 5×5 patch changed by less than this many grey levels
    # on average (0: off): textureless parts that barely move in the image (the gripper pads in the wrist
    # camera) are held instead of lost. Given moving queries, tasks not tuned on: δ_avg 0.399 → 0.403
    # (front), 0.100 → 0.107 (wrist), wrist occlusion accuracy 0.50 → 0.53.
    hold_still_grey: float = 5.0
    # With depth and poses: a new point that the moving camera carries along (the gripper and what it holds, in
    # the wrist view: 10 frames on, its own pixel keeps its depth and look, its world anchor's projection does
    # not) is a moving point from the start, held on its pixel unless LK finds a better match (carried.py).
    # Wrist camera, given moving queries, tasks not tuned on: δ_avg 0.137 → 0.244, 3D median 56 → 20 cm; the
    # front camera is unchanged (docs/results.md, TraceExtract).
    carried_start: bool = True
    # A point nearer the camera than this (metres) is carried unless its world anchor's projection matches it
    # clearly better, even where its own pixel changed (a finger closing): only the gripper comes this near a
    # moving camera (the pads lie 3–10 cm from the Meta-World wrist camera, the table no nearer than 10.6 cm in
    # the tuning tasks). Wrist camera, given moving queries, tasks not tuned on: δ_avg 0.230 → 0.294, 3D median
    # 31 → 1.2 cm, false motion 0.128 → 0.098 (docs/results.md, TraceExtract).
    carried_near_m: float = 0.10
    # With `carried_start`: a carried point on a textureless part nearer than `carried_near_m` (the finger pads, seen
    # from the wrist camera) moves with that part's 3D shape, registered by translation in the camera's frame to
    # every later frame's depth (carried_parts.py), instead of staying on its pixel. Wrist camera, given moving
    # queries, tasks not tuned on: δ_avg 0.329 → 0.519, gripper 0.287 → 0.509, 3D median 0.71 → 0.34 cm, false
    # motion 0.136 → 0.102 (docs/results.md, TraceExtract).
    carried_parts: bool = True
    # A moving point is pulled back onto its own patch of the frame it was seeded in (LK from there, started
    # where the frame-to-frame step put it) when that match lies within this many pixels of the step; 0 = off.
    # Stops the drift of chained steps.
    relocalise_px: float = 12.0
    # With depth: LK follows two channels of the surface's orientation beside the grey image (the normal's x and
    # y as 128 + this gain times each; 0 = grey only; lk_images.py), so a uniformly coloured but curved or edged
    # part gives it something to hold. Given moving queries, tasks not tuned on, front / wrist: δ_avg 0.421 /
    # 0.288 → 0.453 / 0.314, front gripper 0.296 → 0.371, 3D median 5.5 / 1.1 → 4.9 / 0.8 cm; 60 and 150 do
    # as well as 100 on the tuning tasks (docs/results.md, TraceExtract).
    lk_shape_gain: float = 100.0
    # With depth and poses, points on one rigid part move together (neighbour_motion.py; 0 = off): a static point
    # departs when the moving points that lay within this radius of it (metres) when it was anchored have carried
    # the part more than `static_px` on since, and a moving point that LK loses or holds still goes where its
    # moving neighbours' median step puts it, wherever the depth test sees it there and its patch fits no worse.
    # A uniformly coloured link sliding along itself gives LK nothing to see. Given moving queries, tasks not tuned
    # on, front / wrist: δ_avg 0.453 / 0.320 → 0.549 / 0.329, front gripper 0.371 → 0.577, front 3D median 4.9 →
    # 2.8 cm; wrist false motion 0.107 → 0.136; 0.77–0.81× the speed (docs/results.md, TraceExtract).
    neighbour_radius_m: float = 0.05
    # Moving points that must lie that near for the part's motion to count.
    neighbour_min_moving: int = 3
    # ... and the share of them among all points seen there (static ones vote for no motion: a table point next
    # to a pushed object stays).
    neighbour_moving_share: float = 0.34
    # With neighbours, on a still camera: a moving point that is not seen any more is kept for up to this many
    # frames, placed where its moving neighbours (as they were when it was last seen) have carried its part
    # since, and seen again where the depth test sees it there (0: it ends at once). Tuning tasks, front camera,
    # seeds 0–1 / 2–5: δ_avg 0.602 / 0.597 → 0.613 / 0.605, 3D median 1.19 / 1.18 → 1.12 / 1.16 cm (8 and 15
    # frames: 0.610 and 0.612 on seeds 0–1; 80 as 30). Not on a moving camera: there it raised false motion
    # (0.101 → 0.111) for nothing (docs/results.md, TraceExtract).
    lost_follow_frames: int = 30
    # Where LK fails, carry a point with the uniformly coloured region it lies in (segment_motion.py).
    # Given moving queries, tasks not tuned on: δ_avg 0.403 → 0.422 (front), 0.107 → 0.119 (wrist); average
    # Jaccard 0.266 → 0.254 and 0.088 → 0.077 (carried points are kept visible, some of them wrongly).
    region_motion: bool = True
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
    # Arc-length retargeting: one step per this much robust path length (normalised image units). The
    # recipe's 0.05 suits long real videos; on 81-frame simulated episodes it leaves a query 8 of 32 valid
    # steps (front camera), 0.0125 leaves 21.5 with 0.15 image units of motion (README, protocol).
    retarget_interval: float = 0.0125
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
        require(self.grid_px >= 2, "grid_px", "must be >= 2")
        require(self.tracker in TRACKERS, "tracker", f"must be one of {', '.join(TRACKERS)}")
        require(self.motion in ("lk", "dis", "template", "learned"), "motion",
                "must be 'lk', 'dis', 'template' or 'learned'")
        require(self.motion != "learned" or bool(self.flow_weights), "flow_weights",
                "motion 'learned' needs the path of the flow network's weights")
        require(self.template_radius_px >= 1 and self.template_near_m > 0 and self.template_iters >= 0
                and 1 <= self.template_stride_px <= self.template_radius_px
                and self.template_depth_weight >= 0, "template_radius_px",
                "template radius ≥ 1 px, near > 0 m, iterations ≥ 0 and depth weight ≥ 0")
        require(self.departure in ("gap", "path"), "departure", "must be 'gap' or 'path'")
        require(self.seed_edge_px >= 0, "seed_edge_px", "must be >= 0")
        require(self.hold_still_grey >= 0, "hold_still_grey", "must be >= 0 (grey levels)")
        require(self.carried_near_m >= 0, "carried_near_m", "must be >= 0 (metres)")
        require(self.relocalise_px >= 0, "relocalise_px", "must be >= 0 (pixels; 0 = off)")
        require(self.neighbour_radius_m >= 0, "neighbour_radius_m", "must be >= 0 (metres; 0 = off)")
        require(self.neighbour_min_moving >= 1, "neighbour_min_moving", "must be >= 1")
        require(0 <= self.neighbour_moving_share <= 1, "neighbour_moving_share", "must lie in [0, 1]")
        require(self.lost_follow_frames >= 0, "lost_follow_frames", "must be >= 0 (frames; 0 = off)")
        require(self.lk_shape_gain >= 0, "lk_shape_gain", "must be >= 0 (grey levels; 0 = grey only)")
        require(self.gt_grid_px >= 1 and self.gt_points_per_body >= 0, "gt_grid_px",
                "gt_grid_px must be >= 1 and gt_points_per_body >= 0")
        require(self.lk_window_px >= 3 and self.lk_window_px % 2 == 1, "lk_window_px", "must be odd and >= 3")
        require(self.departure_window_px == 0 or (self.departure_window_px >= 3 and self.departure_window_px % 2 == 1),
                "departure_window_px", "must be 0 (lk_window_px) or odd and >= 3")
        require(self.departure_confirm >= 1, "departure_confirm", "must be >= 1")
        require(self.depth_departure_m >= 0, "depth_departure_m", "must be >= 0 (metres; 0 = off)")
        require(self.poses in ("auto", "given", "estimate"), "poses", "must be auto, given or estimate")
        require(self.query_stride >= 1, "query_stride", "must be >= 1")
        require(self.min_frames >= 2, "min_frames", "must be >= 2")
        require(self.future_len >= 2 and self.history_len >= 1, "future_len", "horizons must be >= 2 / >= 1")
        require(0 < self.retarget_top_fraction <= 1, "retarget_top_fraction", "must be within (0, 1]")
        require(self.retarget_interval > 0, "retarget_interval", "must be > 0")
        require(0 <= self.min_coverage <= 1, "min_coverage", "must be within [0, 1]")
        require(1 <= self.min_chunk_frames <= self.max_chunk_frames, "min_chunk_frames",
                 "must be >= 1 and <= max_chunk_frames")
        require(self.workers >= 1, "workers", "must be >= 1")


@dataclasses.dataclass(frozen=True)
class ValidationConfig:
    """Great Expectations checks on raw episodes and trace datasets, and the gate they feed."""

    # Largest plausible metric depth (metres) in raw episodes.
    max_depth_m: float = 20.0
    # Lowest frame rate accepted in raw episodes.
    min_fps: float = 1.0
    # Highest frame rate accepted in raw episodes.
    max_fps: float = 500.0
    # Per query frame: fewest keypoints.
    min_points_per_frame: int = 1
    # Per query frame: most keypoints.
    max_points_per_frame: int = 4096
    # Per query frame: lowest share of moving keypoints.
    min_moving_fraction: float = 0.0
    # Per query frame: highest share of moving keypoints.
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
        require(self.max_depth_m > 0, "max_depth_m", "must be > 0")
        require(0 < self.min_fps < self.max_fps, "min_fps", "must be > 0 and < max_fps")
        require(0 <= self.max_bad_fraction <= 1, "max_bad_fraction", "must be within [0, 1]")
        require(self.drift_tolerance > 0, "drift_tolerance", "must be > 0")


@dataclasses.dataclass(frozen=True)
class TraceDataConfig:
    """How trace episodes become training samples for μ_0 (one sample = one query frame)."""

    # Query keypoints per sample (padded with a mask when a frame has fewer).
    num_points: int = 32
    # Future steps per sample (retargeted steps after the query frame); empty: the model's (--model.horizon),
    # which is where a run says it.
    horizon: int | None = None
    # History steps per sample (before the query frame); empty: the model's (--model.history).
    history: int | None = None
    # Percentile of |Δ| per axis used to normalise anchor-relative future targets (the recipe: 95).
    delta_percentile: float = 95.0
    # Rows that percentile is taken over: "moving" (rows labelled is_moving, so the scale is the scale
    # of the motion to forecast) or "all" (the recipe: mostly still rows, a scale far below the motion).
    delta_rows: str = "moving"
    # Divide the anchor-relative history by the same per-axis scale as the future (the recipe: no).
    scale_history: bool = True
    # A keypoint enters the loss when it has at least this many valid future steps; its control points
    # are fitted to the valid part (the recipe: K = 10, which leaves most short traces untrained).
    min_valid_steps: int = 2
    # Training only: probability that a sample gets no history at all.
    history_drop_all: float = 0.5
    # Training only: probability that one keypoint loses its history.
    history_drop_point: float = 0.3
    # Photometric jitter of training images: brightness, contrast and saturation scaled by factors within
    # [1 − s, 1 + s] (the recipe: 0.3). Pixels do not move, so traces stay exact.
    color_jitter: float = 0.0
    # Training only: the image, its query keypoints and the principal point move together by a random whole
    # number of pixels within ±random_shift_px (edges replicated); traces are deltas, so they stay exact. Off:
    # under the simulator's fixed cameras ±4 px cost μ_0 14% val ADE without history (docs/results.md); it is
    # there for video, where camera placement varies.
    random_shift_px: int = 0
    # Fraction of episodes in train.
    train_fraction: float = 0.8
    # Fraction of episodes in val (the rest after train and val is test).
    val_fraction: float = 0.1
    # Whole tasks held out for testing generalisation (their episodes are all in test).
    holdout_tasks: tuple[str, ...] = ()
    # Train on only this many of the train split's episodes (0: all), a nested subset: for data-scaling
    # curves over one fixed val/test split.
    max_train_episodes: int = 0
    # Seed of the split and of sampling in val/test (train sampling is random per epoch).
    seed: int = 0

    def for_model(self, model) -> TraceDataConfig:
        """This config with an empty horizon and history taken from `model` (any config with both)."""
        return dataclasses.replace(self, horizon=self.horizon or model.horizon, history=self.history or model.history)

    def __post_init__(self) -> None:
        require(self.num_points >= 1, "num_points", "must be >= 1")
        require((self.horizon is None or self.horizon >= 1) and (self.history is None or self.history >= 1),
                "horizon", "horizon and history must be >= 1 (or empty: the model's)")
        require(0 < self.delta_percentile <= 100, "delta_percentile", "must be within (0, 100]")
        require(self.delta_rows in ("moving", "all"), "delta_rows", "must be 'moving' or 'all'")
        require(1 <= self.min_valid_steps <= (self.horizon or self.min_valid_steps), "min_valid_steps",
                "must be within [1, horizon]")
        require(0 <= self.history_drop_all <= 1 and 0 <= self.history_drop_point <= 1, "history_drop_all",
                 "dropout probabilities must be within [0, 1]")
        require(0 <= self.color_jitter < 1, "color_jitter", "must be within [0, 1)")
        require(self.random_shift_px >= 0, "random_shift_px", "must be >= 0")
        require(self.train_fraction > 0 and self.val_fraction >= 0 and self.train_fraction + self.val_fraction <= 1,
                 "train_fraction", "train > 0, val >= 0 and train + val <= 1")


@dataclasses.dataclass(frozen=True)
class FlowTrainConfig:
    """Training TraceExtract's flow network (`motion learned`) on simulated episodes' ground truth."""

    # Optimiser steps (AdamW, one-cycle learning rate).
    steps: int = 8000
    # Frame pairs per step.
    batch: int = 8
    # Peak learning rate.
    lr: float = 1e-3
    # Loss weight of a pixel that moves in the world (its true flow differs from the camera's by more than
    # 0.5 px) against a still one: such pixels are few, and they are what the tracker exists for.
    moving_weight: float = 10.0
    # Weight of the visibility term (is the pixel's point still seen in the other frame) in the loss.
    visibility_weight: float = 0.2
    # Frame gaps of the training pairs, each in both directions (the tracker asks for 1 and its departure
    # check's gap).
    gaps: tuple[int, ...] = (1, 2, 4)
    # Every this many body-id maps of an episode is a source frame of pairs.
    source_every: int = 4
    # Seed of the initial weights, the pair order and the augmentation.
    seed: int = 0

    def __post_init__(self) -> None:
        require(self.steps > 0 and self.batch > 0, "steps/batch", "must be positive")
        require(self.lr > 0, "lr", "must be positive")
        require(len(self.gaps) > 0 and min(self.gaps) > 0, "gaps", "need at least one positive frame gap")
        require(self.source_every > 0, "source_every", "must be positive")
