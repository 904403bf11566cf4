import dataclasses

import numpy as np
import pytest
import torch

from mu0.config import TraceDataConfig
from mu0.traces.build import build_datasets
from mu0.traces.random_shift import draw_shift, shift_image, shift_intrinsics
from tests.trace_extract.synthetic import box_trace_dataset

CFG = TraceDataConfig(num_points=16, horizon=8, history=4, train_fraction=0.6, val_fraction=0.2)


@pytest.fixture(scope="module")
def traces(tmp_path_factory):
    return box_trace_dataset(tmp_path_factory.mktemp("traces"), 6, speed0=0.5, speed_step=0.1)


def _pixels_under(sample: dict) -> tuple[np.ndarray, np.ndarray]:
    """The RGB under each real keypoint of a sample (nearest pixel), and whether that pixel is in the image."""
    image = sample["image"].permute(1, 2, 0).numpy()
    h, w = image.shape[:2]
    uv = sample["points_uv"][sample["point_mask"]].numpy()
    x, y = np.round((uv[:, 0] + 1) * w / 2 - 0.5).astype(int), np.round((uv[:, 1] + 1) * h / 2 - 0.5).astype(int)
    inside = (x >= 0) & (x < w) & (y >= 0) & (y < h)
    return image[y.clip(0, h - 1), x.clip(0, w - 1)], inside


def test_a_shifted_sample_keeps_every_keypoint_on_its_pixel_and_its_targets(traces):
    plain, _, _ = build_datasets(traces, CFG)
    shifted, _, _ = build_datasets(traces, dataclasses.replace(CFG, random_shift_px=6))
    moved = 0
    for epoch in range(4):
        a, b = plain["train"][(0, epoch)], shifted["train"][(0, epoch)]
        offset = (b["points_uv"] - a["points_uv"])[a["point_mask"]]
        assert torch.allclose(offset, offset[:1].expand_as(offset), atol=1e-6)  # one rigid move of all points
        moved += int(offset.abs().max() > 0)
        (before, _), (after, inside) = _pixels_under(a), _pixels_under(b)
        assert inside.sum() >= len(inside) // 2
        np.testing.assert_array_equal(before[inside], after[inside])  # still on the same content
        for key in ("future", "future_valid", "history", "is_moving", "points_z"):
            assert torch.equal(a[key], b[key]), key  # deltas from the keypoint: unchanged
    assert moved >= 2  # the draws do move the sample
    assert torch.equal(shifted["train"][(0, 1)]["image"], shifted["train"][(0, 1)]["image"])  # reproducible
    held = shifted["val"] if len(shifted["val"]) else shifted["test"]
    reference = plain["val"] if len(plain["val"]) else plain["test"]
    assert torch.equal(held[0]["image"], reference[0]["image"])  # evaluation samples are never shifted


def test_shift_moves_content_replicates_edges_and_moves_the_principal_point():
    image = np.arange(20, dtype=np.float32).reshape(4, 5)
    out = shift_image(image, 2, -1)
    assert out[0, 2] == image[1, 0] and out[2, 4] == image[3, 2]  # content moved right 2, up 1
    assert out[3, 0] == image[3, 0]  # the uncovered corner repeats the edge
    assert shift_image(image, 0, 0) is image
    k = shift_intrinsics(np.array([[100, 0, 32], [0, 100, 24], [0, 0, 1]], np.float32), 3, -2)
    assert (k[0, 2], k[1, 2]) == (35, 22)
    assert draw_shift(0, np.random.default_rng(0)) == (0, 0)
    draws = {draw_shift(2, np.random.default_rng(seed)) for seed in range(200)}
    assert {d for pair in draws for d in pair} == {-2, -1, 0, 1, 2}
