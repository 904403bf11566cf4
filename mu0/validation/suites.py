"""The expectation suites, in code: what is checked on which table, and how severe a failure is.

Per-episode properties are non-critical: a failure quarantines the episodes it names. Dataset-level
properties (no data at all, drift from the accepted distribution) are critical: they fail the gate.
"""

from __future__ import annotations

from mu0.config import ValidationConfig
from mu0.validation.gx_runner import Check


def _true(table: str, column: str, description: str) -> Check:
    import great_expectations as gx

    return Check(f"{table}.{column}", table,
                 lambda: gx.expectations.ExpectColumnValuesToBeInSet(column=column, value_set=[True]), False,
                 description)


def raw_checks(cfg: ValidationConfig) -> list[Check]:
    import great_expectations as gx

    return [
        Check("raw.episodes_present", "raw", lambda: gx.expectations.ExpectTableRowCountToBeBetween(min_value=1),
              True, "the raw dataset holds at least one episode"),
        _true("raw", "readable", "every file of the episode loads (images, cameras, meta, depth, robot)"),
        _true("raw", "frames_agree", "images, depth, cameras and robot arrays have the same frame count as meta"),
        _true("raw", "images_ok", "images are (T,H,W,3) uint8 matching the camera's height and width"),
        Check("raw.fps", "raw", lambda: gx.expectations.ExpectColumnValuesToBeBetween(
            column="fps", min_value=cfg.min_fps, max_value=cfg.max_fps), False, "fps within the configured range"),
        _true("raw", "K_valid", "every K is a pinhole matrix: fx, fy > 0, no skew, last row [0, 0, 1]"),
        _true("raw", "K_inside_image", "the principal point lies inside the image"),
        _true("raw", "extrinsics_rigid", "every world-to-camera matrix is a rigid transform"),
        _true("raw", "depth_finite", "depth has no NaN or inf"),
        _true("raw", "depth_nonnegative", "depth is >= 0 (0 = no measurement)"),
        _true("raw", "depth_shape_ok", "depth is (T,H,W) like the images"),
        Check("raw.depth_max_m", "raw", lambda: gx.expectations.ExpectColumnValuesToBeBetween(
            column="depth_max_m", min_value=0, max_value=cfg.max_depth_m), False,
            "depth is in a plausible metric range (catches millimetres stored as metres)"),
        _true("raw", "actions_finite", "actions are finite"),
        _true("raw", "proprio_finite", "proprioception is finite"),
        _true("raw", "actions_in_bounds", "actions lie within the embodiment's bounds"),
        _true("raw", "instruction_present", "meta.json has at least one non-empty instruction"),
        _true("raw", "hash_ok", "the files still hash to meta.json's content_hash"),
    ]


def trace_checks(cfg: ValidationConfig) -> dict[str, list[Check]]:
    import great_expectations as gx

    return {
        "trace_episodes": [
            Check("trace_episodes.present", "trace_episodes",
                  lambda: gx.expectations.ExpectTableRowCountToBeBetween(min_value=1), True,
                  "the trace dataset holds at least one episode"),
            _true("trace_episodes", "captions_nonempty", "every caption text is a non-empty string"),
            _true("trace_episodes", "captions_varied", "captions are not all identical"),
        ],
        "trace_rows": [
            _true("trace_rows", "finite_where_valid", "trace values are finite wherever valid_steps is true"),
            _true("trace_rows", "neginf_where_invalid", "trace values are -inf exactly where valid_steps is false"),
            _true("trace_rows", "keypoint_inside_image", "query keypoints lie inside the image"),
            _true("trace_rows", "z_positive", "depth z of the query point is > 0 (3D episodes)"),
            _true("trace_rows", "history_future_agree", "history and future agree at index 0 (the query frame)"),
        ],
        "trace_frames": [
            Check("trace_frames.points", "trace_frames", lambda: gx.expectations.ExpectColumnValuesToBeBetween(
                column="points", min_value=cfg.min_points_per_frame, max_value=cfg.max_points_per_frame), False,
                "keypoints per query frame within bounds"),
            Check("trace_frames.moving_fraction", "trace_frames",
                  lambda: gx.expectations.ExpectColumnValuesToBeBetween(
                      column="moving_fraction", min_value=cfg.min_moving_fraction,
                      max_value=cfg.max_moving_fraction), False, "share of moving keypoints per frame within bounds"),
            _true("trace_frames", "caption_covered", "every frame with samples is covered by a caption chunk"),
        ],
    }
