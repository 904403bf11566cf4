"""Patch agreement: the photometric test every hypothesis choice in the trackers rests on."""

import numpy as np

from mu0.trace_extract.patches import patch_errors, patch_errors_grouped

from .synthetic import shift_image, texture


def test_the_true_place_matches_best_and_a_non_finite_point_scores_inf():
    a = texture(48, 48, 0)
    b = shift_image(a, 2.0, 1.0)  # content moves by (+2, +1)
    uv = np.array([[20.0, 20.0], [30.0, 25.0], [np.nan, 5.0]])
    e_true, e_stay = patch_errors(a, uv, b, [uv + [2.0, 1.0], uv])
    assert (e_true[:2] < 0.5).all() and (e_stay[:2] > 5 * e_true[:2]).all()
    assert np.isinf(e_true[2]) and np.isinf(e_stay[2])


def test_only_the_point_s_own_surface_counts_with_depth():
    """The patch straddles a silhouette: the background half differs between the images, the point's own half
    does not; with depth only the own half is compared."""
    a = np.full((32, 32), 100, np.uint8)
    b = a.copy()
    b[:, 16:] = 200  # the background right of column 16 changed
    depth = np.where(np.arange(32)[None, :] < 16, 0.5, 2.0).astype(np.float32).repeat(32, 0)
    uv = np.array([[14.0, 16.0]])
    assert patch_errors(a, uv, b, [uv])[0, 0] > 10
    assert patch_errors(a, uv, b, [uv], depth_a=depth)[0, 0] == 0


def test_grouped_sources_score_as_separate_calls_do():
    """Points from several images (and several channels) scored in one call equal one call per image."""
    rng = np.random.default_rng(3)
    frames = [np.stack([texture(40, 40, s), texture(40, 40, s + 10), texture(40, 40, s + 20)], -1) for s in range(3)]
    depths = [(1 + rng.random((40, 40))).astype(np.float32) for _ in range(3)]
    target = frames[0][::-1].copy()
    points = [rng.random((n, 2)) * 36 + 2 for n in (4, 1, 6)]
    near = [p + rng.normal(0, 1, p.shape) for p in points]
    depth_of = [depths[0], None, depths[2]]
    grouped = patch_errors_grouped(list(zip(frames, points, depth_of, strict=True)), target,
                                   [np.concatenate(near), np.concatenate(points)])
    separate = np.concatenate([patch_errors(f, p, target, [q, p], depth_a=d)
                               for f, p, q, d in zip(frames, points, near, depth_of, strict=True)], axis=1)
    np.testing.assert_allclose(grouped, separate, rtol=1e-6)


def test_a_source_without_a_usable_point_is_scored_inf_beside_the_others():
    a = texture(20, 20, 4)
    uv = np.array([[5.0, 5.0]])
    nowhere = np.full((2, 2), np.nan)
    errors = patch_errors_grouped([(a, nowhere, None), (a, uv, None)], a, [np.concatenate([nowhere, uv])])
    assert np.isinf(errors[0, :2]).all() and errors[0, 2] == 0
