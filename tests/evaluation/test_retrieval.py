"""The retrieval baseline: nearest training frames by image, nearest keypoints in them, their futures averaged
step by step."""

import pytest
import torch

from mu0.config import TraceDataConfig
from mu0.evaluation.retrieval import RetrievalBaseline, thumbnail
from mu0.traces.build import build_datasets
from mu0.traces.dataset import TraceDataset
from tests.trace_extract.synthetic import box_trace_dataset

H = 4  # horizon


def _frame(grey: int) -> torch.Tensor:
    return torch.full((3, 16, 16), grey, dtype=torch.uint8)


def _line(direction, steps=H) -> torch.Tensor:
    k = torch.arange(1, steps + 1, dtype=torch.float32)[:, None]
    return torch.cat([k * torch.tensor(direction, dtype=torch.float32), torch.zeros(steps, 1)], dim=1)  # (h,3)


def _bank(frames, keypoints, futures, valids, k=1):
    """One bank frame per entry: its grey level, keypoint uvs (r,2), futures (r,h,3), validity (r,h)."""
    r = max(len(p) for p in keypoints)
    uv = torch.zeros(len(frames), r, 2)
    future = torch.zeros(len(frames), r, H, 3)
    valid = torch.zeros(len(frames), r, H, dtype=torch.bool)
    rows = torch.zeros(len(frames), r, dtype=torch.bool)
    for i, (p, f, v) in enumerate(zip(keypoints, futures, valids, strict=True)):
        uv[i, : len(p)], future[i, : len(p)], valid[i, : len(p)], rows[i, : len(p)] = p, f, v, True
    thumbs = thumbnail(torch.stack([_frame(g) for g in frames]), 4)
    return RetrievalBaseline(thumbs, uv, future, valid, rows, k=k, thumb=4)


def _query(grey: int, uv) -> dict:
    return {"image": _frame(grey)[None], "points_uv": torch.tensor([uv], dtype=torch.float32)}


def test_the_nearest_scene_decides_the_motion():
    everywhere = torch.ones(1, H, dtype=torch.bool)
    bank = _bank([0, 255], [torch.zeros(1, 2), torch.zeros(1, 2)], [_line((0.1, 0))[None], _line((0, 0.1))[None]],
                 [everywhere, everywhere])
    dark = bank.predict_point(_query(10, [[0.0, 0.0]]))
    bright = bank.predict_point(_query(240, [[0.0, 0.0]]))
    assert torch.allclose(dark[0, 0], _line((0.1, 0)))
    assert torch.allclose(bright[0, 0], _line((0, 0.1)))
    assert bank.predict(_query(10, [[0.0, 0.0]]), 3).shape == (3, 1, 1, H, 3)


def test_each_query_point_takes_the_nearest_keypoint_of_the_frame():
    both = torch.ones(2, H, dtype=torch.bool)
    bank = _bank([0], [torch.tensor([[-0.5, 0.0], [0.5, 0.0]])],
                 [torch.stack([_line((-0.1, 0)), _line((0.1, 0))])], [both])
    out = bank.predict_point(_query(0, [[0.4, 0.1], [-0.7, -0.2]]))
    assert torch.allclose(out[0, 0], _line((0.1, 0))) and torch.allclose(out[0, 1], _line((-0.1, 0)))


def test_neighbours_average_where_valid_and_a_trace_holds_where_none_is():
    short = torch.tensor([[True, True, False, False]])
    longer = torch.tensor([[True, True, True, False]])
    bank = _bank([0, 4], [torch.zeros(1, 2), torch.zeros(1, 2)], [_line((0.2, 0))[None], _line((0, 0.2))[None]],
                 [short, longer], k=2)
    out = bank.predict_point(_query(2, [[0.0, 0.0]]))[0, 0]
    a, b = _line((0.2, 0)), _line((0, 0.2))
    assert torch.allclose(out[:2], (a[:2] + b[:2]) / 2)  # both valid: the mean
    assert torch.allclose(out[2], b[2])  # one valid: that one
    assert torch.allclose(out[3], out[2])  # none: held where the trace was


def test_a_training_frame_looked_up_in_its_own_bank_gives_its_own_future(tmp_path):
    box_trace_dataset(tmp_path, 3, query_stride=3)
    cfg = TraceDataConfig(num_points=8, horizon=8, history=4, train_fraction=0.99, val_fraction=0.0)
    train = build_datasets(tmp_path / "traces", cfg)[0]["train"]
    train = TraceDataset(train.paths, cfg, train.stats, train=False)  # seeded draws, as the evaluation builds it
    bank = RetrievalBaseline.from_dataset(train, k=1)
    assert len(bank.thumbs) == len(train)
    gaps = torch.cdist(bank.thumbs, bank.thumbs).fill_diagonal_(float("inf")).min(dim=1).values
    unique = int(torch.nonzero(gaps > 1e-4)[-1])  # a frame no other frame looks exactly like (first frames do)
    sample = torch.utils.data.default_collate([train[unique]])
    out = bank.predict_point(sample)
    valid = sample["future_valid"] & sample["point_mask"][..., None]
    assert valid.any()
    assert torch.allclose(out[valid], sample["future"][valid], atol=2e-3)  # float16 bank


def test_an_empty_bank_is_refused(tmp_path):
    box_trace_dataset(tmp_path, 2, query_stride=3)
    cfg = TraceDataConfig(num_points=8, horizon=8, history=4, train_fraction=0.5, val_fraction=0.5)
    empty = TraceDataset([], cfg, build_datasets(tmp_path / "traces", cfg)[1], train=False)
    with pytest.raises(ValueError, match="at least one training frame"):
        RetrievalBaseline.from_dataset(empty)
