"""The learned baselines: the ATM-style track transformer and the tokenized VLM."""

import pytest
import torch

from mu0.config import BackboneConfig, TraceExpertConfig, WorldModelConfig
from mu0.models.registry import KINDS, build_model, config_for, load_model
from tests.models.batches import random_batch

WORLD = WorldModelConfig(backbone=BackboneConfig(image_size=32, patch_size=8),
                         expert=TraceExpertConfig(width=32, layers=2), horizon=16, history=4)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_trains_predicts_and_round_trips(kind, tmp_path):
    torch.manual_seed(0)
    model = build_model(config_for(kind, WORLD))
    batch = random_batch()
    loss, info = model.compute_loss(batch)
    loss.backward()
    assert torch.isfinite(loss) and info["keypoints"] > 0
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad and p.grad is not None)
    pred = model.eval().predict(batch, 3)
    assert pred.shape == (3, 2, 5, 16, 3) and torch.isfinite(pred).all()
    loaded = load_model(model.save_pretrained(tmp_path / kind)).eval()
    assert loaded.kind == kind and loaded.cfg == model.cfg
    torch.manual_seed(1)
    a = model.predict(batch, 1)
    torch.manual_seed(1)
    torch.testing.assert_close(loaded.predict(batch, 1), a)


def _fit(model, batch, steps, lr):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    first = None
    for _ in range(steps):
        loss, _ = model.compute_loss(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    return first, loss.item()


def test_track_transformer_regresses_one_batch_and_ignores_padding():
    torch.manual_seed(0)
    model = build_model(config_for("track-transformer", WORLD))
    batch = random_batch()
    first, last = _fit(model, batch, 150, 3e-3)
    assert last < 0.1 * first
    padded = dict(batch, future=batch["future"].clone())
    padded["future"][-1, 3:] = 100.0  # masked points: their targets must not matter
    assert model.compute_loss(padded)[0].item() == pytest.approx(model.compute_loss(batch)[0].item())


def test_tokenized_vlm_decodes_the_control_point_tokens_it_learned():
    torch.manual_seed(0)
    model = build_model(config_for("tokenized-vlm", WORLD))
    batch = random_batch(b=1, n=3)
    batch["z_valid"] = torch.tensor([True])
    _fit(model, batch, 120, 3e-3)
    model.eval()
    target = model.spline.render(model.spline.fit(batch["future"], batch["future_valid"]))
    step = 2 * model.cfg.ctrl_clip / (model.cfg.bins - 1)  # one bin: the quantisation the tokens allow
    got = model.predict(batch, 1)[0]
    ok = batch["point_mask"][0]
    assert (got[0, ok] - target[0, ok]).abs().max() < 4 * step
