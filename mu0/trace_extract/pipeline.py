"""TraceExtract, one episode at a time: keypoints → tracks → 3D lift → world alignment → motion labels
and quality filter → samples (raw + retargeted) → motion chunks → captions.

`trace_episode` is the computation; `extract_episode` adds the skip-if-unchanged check, writing
and quarantine, and is what a process pool (or a Prefect task) maps over episodes.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from pathlib import Path

import numpy as np

from mu0.config import TraceExtractConfig, to_dict
from mu0.episodes import Episode, EpisodeFormatError, open_episode
from mu0.episodes import trace_layout as L
from mu0.episodes.hashing import episode_seed
from mu0.episodes.quarantine import clear_quarantine, quarantine
from mu0.trace_extract import motion
from mu0.trace_extract.alignment import (
    AlignmentError,
    DepthPoseGeometry,
    estimate_poses,
    find_camera_jump,
    poses_from_extrinsics,
)
from mu0.trace_extract.captions import MotionCaptioner, build_captions
from mu0.trace_extract.dense_flow import DenseFlowTracker
from mu0.trace_extract.describe import agent_name, chunk_motions, entity_names
from mu0.trace_extract.flow.tracker import LearnedFlowTracker
from mu0.trace_extract.freshness import VERSION, config_hash, current_extraction
from mu0.trace_extract.groundtruth_source import SOURCE_NAME, groundtruth_tracks, require_ground_truth
from mu0.trace_extract.keypoints import CornerGridSelector
from mu0.trace_extract.lifting import end_tracks_at_depth_jumps, lift_tracks, make_tracks3d, prefer_tracker_points
from mu0.trace_extract.output import write_trace_episode
from mu0.trace_extract.point_tracker import PointTracker
from mu0.trace_extract.samples import SampleSpec, build_samples
from mu0.trace_extract.segments import agent_entities, entity_speeds, segment
from mu0.trace_extract.template_fit import TemplateFit
from mu0.trace_extract.template_tracking import DepthTemplateTracker
from mu0.trace_extract.tracking import LucasKanadeTracker

log = logging.getLogger(__name__)
class RejectedEpisode(ValueError):
    """The episode cannot give usable traces; the message says why."""


@dataclasses.dataclass
class TraceResult:
    samples: dict[str, np.ndarray]
    captions: dict
    tracks: dict[str, np.ndarray]
    extrinsics: np.ndarray | None  # estimated world-to-camera poses, None when the given ones were used
    stats: dict
    timing_s: dict[str, float]


def _pose_mode(ep: Episode, cfg: TraceExtractConfig) -> str:
    if cfg.poses != "auto":
        return cfg.poses
    return "given" if ep.meta.get("camera_poses", "given") == "given" else "estimate"


def point_tracker(cfg: TraceExtractConfig) -> PointTracker:
    kind = {"dis": DenseFlowTracker, "learned": functools.partial(LearnedFlowTracker, weights=cfg.flow_weights)
            }.get(cfg.motion, LucasKanadeTracker)
    lk = kind(CornerGridSelector(cfg.grid_px, cfg.min_texture), cfg.grid_px, cfg.max_tracks, cfg.lk_window_px,
              cfg.lk_levels, cfg.fb_max_error_px, cfg.reseed_every, cfg.static_px,
              leave_when_uncovered=cfg.leave_when_uncovered, departure=cfg.departure,
              hold_still_grey=cfg.hold_still_grey, region_motion=cfg.region_motion,
              departure_window_px=cfg.departure_window_px, confirm=cfg.departure_confirm,
              carried_start=cfg.carried_start, carried_near_m=cfg.carried_near_m,
              departure_surface=cfg.departure_surface, relocalise_px=cfg.relocalise_px,
              shape_gain=cfg.lk_shape_gain, neighbour_radius_m=cfg.neighbour_radius_m,
              neighbour_min_moving=cfg.neighbour_min_moving, neighbour_moving_share=cfg.neighbour_moving_share,
              carried_parts=cfg.carried_parts, depth_departure_m=cfg.depth_departure_m,
              gap_departures_moving_camera=cfg.gap_departures_moving_camera,
              lost_follow_frames=cfg.lost_follow_frames)
    if cfg.motion != "template":
        return lk
    fit = TemplateFit(depth_weight=cfg.template_depth_weight, iters=cfg.template_iters)
    return DepthTemplateTracker(lk, fit, cfg.template_radius_px, cfg.template_near_m, cfg.template_stride_px)


def scene_geometry(cfg: TraceExtractConfig, depth, K: np.ndarray, T_wc: np.ndarray | None
                   ) -> DepthPoseGeometry | None:
    """What the tracker knows of the scene: depth and camera poses, when both are there."""
    if depth is None or T_wc is None:
        return None
    return DepthPoseGeometry(depth, K, T_wc, cfg.depth_window_px, cfg.depth_surface_tol_m, cfg.seed_edge_px)


def _track(ep: Episode, cfg: TraceExtractConfig, images: np.ndarray, depth, timing: dict):
    """2D tracks, 3D points and camera-to-world poses."""
    mode = _pose_mode(ep, cfg)
    K = ep.intrinsics.astype(np.float64)
    T_wc = poses_from_extrinsics(ep.extrinsics) if mode == "given" else None
    geometry = scene_geometry(cfg, depth, K, T_wc)
    t0 = time.perf_counter()
    tracks = point_tracker(cfg).track(images, geometry)
    timing["tracking"] = time.perf_counter() - t0
    jump = find_camera_jump(tracks, cfg.jump_lost_fraction)
    if jump is not None:
        raise RejectedEpisode(f"the camera jumps (a cut) at frame {jump}: more than "
                              f"{cfg.jump_lost_fraction:.0%} of the tracks are lost at once")
    t0 = time.perf_counter()
    if depth is None:
        xyz, has = np.full(tracks.uv_px.shape[:2] + (3,), np.nan), np.zeros(tracks.visible.shape, bool)
        T_wc = T_wc if T_wc is not None else np.repeat(np.eye(4)[None], ep.num_frames, axis=0)
        return make_tracks3d(tracks, xyz, T_wc), T_wc, mode if mode == "given" else "unknown", timing
    xyz, has = lift_tracks(tracks, depth, K, cfg.depth_window_px, cfg.depth_surface_tol_m)
    if T_wc is not None:
        xyz, has = prefer_tracker_points(tracks, xyz, T_wc)
    timing["lifting"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    if T_wc is None:
        try:
            T_wc = estimate_poses(xyz, has, cfg.pose_ransac_m)
        except AlignmentError as exc:
            raise RejectedEpisode(f"camera poses cannot be estimated: {exc}") from None
    tracks = end_tracks_at_depth_jumps(tracks, xyz, T_wc, cfg.depth_jump_m)
    timing["alignment"] = time.perf_counter() - t0
    return make_tracks3d(tracks, xyz, T_wc), T_wc, mode if mode == "given" else "estimated", timing


def trace_source(ep: Episode, cfg: TraceExtractConfig) -> str:
    """Which tracker makes this episode's traces: `groundtruth` or `lk` (TraceExtract's own)."""
    if cfg.tracker == "auto":
        return SOURCE_NAME if ep.gt_dir is not None and ep.depth is not None else "lk"
    if cfg.tracker == SOURCE_NAME:
        require_ground_truth(ep)
    return cfg.tracker


def _tracks_and_labels(ep: Episode, cfg: TraceExtractConfig, source: str, images: np.ndarray, depth, timing: dict):
    """Tracks, camera-to-world poses, how poses were obtained, motion labels and entity ids."""
    if source == SOURCE_NAME:
        t0 = time.perf_counter()
        t3, moving, clusters = groundtruth_tracks(ep, cfg.gt_grid_px, cfg.gt_points_per_body, cfg.moving_threshold_m)
        timing["tracking"] = time.perf_counter() - t0
        return t3, poses_from_extrinsics(ep.extrinsics), "given", moving, clusters
    t3, T_wc, poses, timing = _track(ep, cfg, images, depth, timing)
    use_depth = depth is not None
    t0 = time.perf_counter()
    moving = motion.is_moving(t3, cfg.moving_threshold_m, cfg.moving_threshold_px, use_depth)
    cover = motion.coverage(t3, images.shape[1:3])
    if cover < cfg.min_coverage:
        raise RejectedEpisode(f"track coverage {cover:.2f} is below min_coverage {cfg.min_coverage:.2f} "
                              "(too little trackable texture, or tracking failed)")
    clusters = motion.group_entities(t3, moving) if use_depth and moving.any() else \
        np.where(moving, 1, 0).astype(np.int32)
    timing["motion"] = time.perf_counter() - t0
    return t3, T_wc, poses, moving, clusters


def trace_episode(ep: Episode, cfg: TraceExtractConfig) -> TraceResult:
    if ep.num_frames < cfg.min_frames:
        raise RejectedEpisode(f"{ep.num_frames} frames is too short: TraceExtract needs at least {cfg.min_frames} "
                              f"(horizons: future {cfg.future_len}, history {cfg.history_len} steps)")
    source = trace_source(ep, cfg)
    images = np.asarray(ep.images)
    depth = np.asarray(ep.depth, np.float32) if ep.depth is not None else None
    timing: dict[str, float] = {}
    t3, T_wc, poses, moving, clusters = _tracks_and_labels(ep, cfg, source, images, depth, timing)
    use_depth = depth is not None
    if not moving.any():
        raise RejectedEpisode("no motion: no track moves more than "
                              + (f"{cfg.moving_threshold_m} m" if use_depth else f"{cfg.moving_threshold_px} px"))
    cover = motion.coverage(t3, images.shape[1:3])
    t0 = time.perf_counter()
    spec = SampleSpec(cfg.query_stride, cfg.max_points_per_frame, cfg.future_len, cfg.history_len,
                      cfg.retarget_interval, cfg.retarget_top_fraction)
    seed = episode_seed(ep.episode_id)
    samples = build_samples(t3, moving, clusters, T_wc, ep.intrinsics.astype(np.float64), images.shape[1:3], spec,
                            use_depth, seed)
    timing["samples"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    captions, n_chunks = _caption(ep, cfg, t3, clusters, T_wc, images, use_depth)
    timing["captions"] = time.perf_counter() - t0
    tracks = {L.TRACK_UV_PX: t3.tracks.uv_px, L.TRACK_VISIBLE: t3.tracks.visible, L.TRACK_START: t3.tracks.start,
              L.TRACK_XYZ_WORLD: t3.xyz_world.astype(np.float32), L.TRACK_HAS_DEPTH: t3.has_depth,
              L.IS_MOVING: moving, L.CLUSTER_IDS: clusters}
    stats = {"trace_source": source, "tracks": int(t3.tracks.num_tracks), "moving_tracks": int(moving.sum()),
             "entities": int(clusters.max()), "coverage": round(cover, 4), "poses": poses,
             "query_frames": int(len(samples[L.FRAME_INDICES])), "sample_rows": int(samples[L.OFFSETS][-1]),
             "chunks": n_chunks, L.STAT_Z_VALID: use_depth}
    extrinsics = np.linalg.inv(T_wc) if poses == "estimated" else None
    return TraceResult(samples, captions, tracks, extrinsics, stats, timing)


def _caption(ep, cfg, t3, clusters, T_wc, images, use_depth) -> tuple[dict, int]:
    speeds = entity_speeds(t3, clusters, float(ep.meta["fps"]), use_depth)
    # active: faster than 5 cm/s (or 5% of the image width per second for 2D-only episodes)
    threshold = 0.05 if use_depth else 0.05 * images.shape[2]
    agent_parts = agent_entities(speeds, threshold)
    clusters = np.where(np.isin(clusters, agent_parts), agent_parts[0], clusters) if agent_parts else clusters
    speeds = entity_speeds(t3, clusters, float(ep.meta["fps"]), use_depth)
    chunks = segment(speeds, ep.num_frames, threshold, cfg.min_chunk_frames, cfg.max_chunk_frames, cfg.max_chunks)
    label = agent_name(str(ep.meta.get("embodiment", "unknown")))
    names = entity_names(t3, clusters, images, agent_parts[0] if agent_parts else None, label)
    motions = chunk_motions(t3, clusters, chunks, names, T_wc, ep.intrinsics.astype(np.float64), use_depth)
    texts = MotionCaptioner(float(images.shape[2]), label).caption_chunks(chunks, motions)
    return build_captions(chunks, texts, list(ep.meta.get("instructions", []))), len(chunks)


@dataclasses.dataclass(frozen=True)
class ExtractOutcome:
    episode_id: str
    status: str  # written | replaced | unchanged | quarantined
    detail: str  # output path, or the reason
    stats: dict


def extract_episode(raw: Path, out_dir: Path, quarantine_dir: Path, cfg: TraceExtractConfig) -> ExtractOutcome:
    """Trace one raw episode into `out_dir`; unchanged input and config are skipped, failures quarantined."""
    episode_id = raw.name
    try:
        ep = open_episode(raw)
        target = out_dir / ep.episode_id
        previous = current_extraction(ep.meta["content_hash"], target, cfg)
        if previous is not None:
            return ExtractOutcome(ep.episode_id, "unchanged", str(target), previous.get("stats", {}))
        digest = config_hash(cfg)
        result = trace_episode(ep, cfg)
        meta = {"version": VERSION, "input_hash": ep.meta["content_hash"], "config_hash": digest,
                "config": to_dict(cfg), "stats": result.stats, "timing_s": result.timing_s}
        status = write_trace_episode(ep, out_dir, result.samples, result.captions, result.tracks, result.extrinsics,
                                     meta)
    except Exception as exc:  # one episode's failure, expected or not, must not stop the others
        expected = isinstance(exc, (RejectedEpisode, EpisodeFormatError, AlignmentError))
        note = quarantine(quarantine_dir, episode_id, str(raw), f"{type(exc).__name__}: {exc}")
        log.warning("trace extraction quarantined %s: %s", episode_id, exc, exc_info=not expected)
        return ExtractOutcome(episode_id, "quarantined", str(note), {"reason": str(exc)})
    clear_quarantine(quarantine_dir, episode_id)
    return ExtractOutcome(ep.episode_id, status, str(target), result.stats)
