"""The action expert: the trace gate starts closed, μ_0 stays frozen, flow matching fits, checkpoints round-trip."""

import dataclasses

import pytest
import torch

from mu0.models.action_expert import ActionExpert, grid_uv
from mu0.models.checkpoint import CheckpointError
from tests.policies import POLICY as CFG


def policy_batch(b: int = 4, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {"image": torch.randint(0, 255, (b, 3, 32, 32), dtype=torch.uint8, generator=g),
            "instruction": ["open the drawer", "push the puck"] * (b // 2),
            "proprio": torch.randn(b, 4, generator=g), "actions": torch.rand(b, 4, 4, generator=g) * 2 - 1,
            "action_valid": torch.tensor([[True] * 4] * (b - 1) + [[True, True, False, False]])}


def test_grid_keypoints_cover_the_image_in_unit_coordinates():
    uv = grid_uv(4)
    assert uv.shape == (16, 2)
    assert torch.allclose(uv[0], torch.tensor([-0.75, -0.75])) and torch.allclose(uv[-1], torch.tensor([0.75, 0.75]))


def test_trace_gate_starts_closed_so_trace_features_do_not_change_the_context():
    torch.manual_seed(0)
    policy = ActionExpert(CFG)
    batch = policy_batch()
    before = policy.context(batch["image"], batch["instruction"], batch["proprio"])[0]
    with torch.no_grad():
        for p in policy.world.expert.parameters():
            p.add_(torch.randn_like(p))  # different trace features
    after = policy.context(batch["image"], batch["instruction"], batch["proprio"])[0]
    torch.testing.assert_close(before, after)
    with torch.no_grad():
        policy.trace_gate.gate.fill_(1.0)  # opened: the traces now reach the decoder
    opened = policy.context(batch["image"], batch["instruction"], batch["proprio"])[0]
    assert not torch.allclose(opened, after)


def test_training_moves_the_decoder_and_gate_but_never_the_frozen_world_model():
    torch.manual_seed(0)
    policy = ActionExpert(CFG)
    world = {k: v.clone() for k, v in policy.world.state_dict().items()}
    trainable = [p for p in policy.parameters() if p.requires_grad]
    opt = torch.optim.Adam(trainable, lr=3e-3)
    batch = policy_batch()
    first = None
    for step in range(60):
        torch.manual_seed(step % 4)  # a fixed set of (noise, time) draws, so the loss can be fitted
        loss, info = policy.compute_loss(batch)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first
    assert info["trace_gate"] != 0.0
    for k, v in policy.world.state_dict().items():
        torch.testing.assert_close(v, world[k], msg=f"frozen μ_0 weight {k} changed")


def test_padded_chunk_steps_do_not_count_in_the_loss():
    torch.manual_seed(0)
    policy = ActionExpert(dataclasses.replace(CFG, use_trace=False))
    batch = policy_batch()
    torch.manual_seed(1)
    base = policy.compute_loss(batch)[0]
    batch["actions"][-1, 2:] = 100.0  # beyond the episode's end: masked
    torch.manual_seed(1)
    torch.testing.assert_close(policy.compute_loss(batch)[0], base)


def test_act_returns_clipped_chunks_and_the_grid_trace():
    policy = ActionExpert(CFG).eval()
    batch = policy_batch(2)
    out = policy.act(batch["image"], batch["instruction"], batch["proprio"])
    assert out["actions"].shape == (2, 4, 4) and out["actions"].abs().max() <= 1.0
    assert out["trace"].shape == (2, 16, 16, 3) and out["grid_uv"].shape == (2, 16, 2)
    scratch = ActionExpert(dataclasses.replace(CFG, use_trace=False)).eval()
    assert "trace" not in scratch.act(batch["image"], batch["instruction"], batch["proprio"])


def test_checkpoint_round_trip_and_kind_check(tmp_path):
    policy = ActionExpert(CFG).eval()
    policy.set_proprio_stats(torch.ones(4), torch.full((4,), 2.0))
    policy.save_pretrained(tmp_path / "policy")
    loaded = ActionExpert.from_pretrained(tmp_path / "policy").eval()
    batch = policy_batch(2)
    noise = torch.randn(2, 4, 4)
    torch.testing.assert_close(policy.act(batch["image"], batch["instruction"], batch["proprio"], noise)["actions"],
                               loaded.act(batch["image"], batch["instruction"], batch["proprio"], noise)["actions"])
    from mu0.models.world_model import Mu0WorldModel

    with pytest.raises(CheckpointError, match="holds a 'action-expert' model, not a 'mu0' model"):
        Mu0WorldModel.from_pretrained(tmp_path / "policy")


def test_a_trainable_backbone_copy_learns_while_mu0_stays_frozen():
    torch.manual_seed(0)
    policy = ActionExpert(dataclasses.replace(CFG, train_backbone=True))
    policy.backbone.load_state_dict(policy.world.backbone.state_dict())
    world = {k: v.clone() for k, v in policy.world.state_dict().items()}
    own = {k: v.clone() for k, v in policy.backbone.state_dict().items()}
    opt = torch.optim.Adam([p for p in policy.parameters() if p.requires_grad], lr=1e-3)
    for _ in range(3):  # the decoder's adaLN-Zero blocks start as the identity: the backbone learns from step 2
        opt.zero_grad()
        policy.compute_loss(policy_batch())[0].backward()
        opt.step()
    assert any(not torch.equal(v, own[k]) for k, v in policy.backbone.state_dict().items())
    for k, v in policy.world.state_dict().items():
        torch.testing.assert_close(v, world[k])


def _forecasting_world(policy: ActionExpert) -> None:
    """Give the frozen μ_0 a forecast that depends on the image (an untrained head forecasts no motion)."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in policy.world.expert.parameters():
            p.add_(torch.randn_like(p) * 0.3)


@pytest.mark.parametrize("tokens", ["waypoints", "both"])
def test_waypoint_tokens_carry_the_forecast_to_the_decoder_without_a_gate(tokens):
    torch.manual_seed(0)
    policy = ActionExpert(dataclasses.replace(CFG, trace_tokens=tokens, waypoints=4)).eval()
    assert hasattr(policy, "trace_gate") == (tokens == "both")
    batch = policy_batch()
    ctx, mask, _ = policy.context(batch["image"], batch["instruction"], batch["proprio"])
    plain = ActionExpert(CFG).context(batch["image"], batch["instruction"], batch["proprio"])[0]
    assert ctx.shape[1] == plain.shape[1] + CFG.grid ** 2 and mask[:, -CFG.grid ** 2:].all()
    _forecasting_world(policy)
    changed = policy.context(batch["image"], batch["instruction"], batch["proprio"])[0]
    assert not torch.allclose(changed[:, -CFG.grid ** 2:], ctx[:, -CFG.grid ** 2:])  # μ_0's forecast, read at once
    assert torch.equal(policy.waypoint_steps, torch.tensor([0, 5, 10, 15]))  # spread over the 16-step horizon
    if tokens == "waypoints":
        assert "trace_gate" not in policy.compute_loss(batch)[1]


def test_waypoint_tokens_learn_while_mu0_stays_frozen():
    policy = ActionExpert(dataclasses.replace(CFG, trace_tokens="waypoints", waypoints=4))
    _forecasting_world(policy)
    before = [p.clone() for p in policy.waypoint_in.parameters()]
    opt = torch.optim.Adam([p for p in policy.parameters() if p.requires_grad], lr=1e-3)
    for _ in range(3):  # adaLN-Zero blocks start as the identity: the context gets gradient from step 2
        opt.zero_grad()
        policy.compute_loss(policy_batch())[0].backward()
        opt.step()
    assert all(not torch.equal(a, b) for a, b in zip(before, policy.waypoint_in.parameters(), strict=True))
    assert all(p.grad is None for p in policy.world.parameters())


@pytest.mark.parametrize("tokens", ["states", "waypoints", "both"])
def test_trace_reading_reports_the_gate_and_the_attention_on_waypoint_tokens(tokens):
    torch.manual_seed(0)
    policy = ActionExpert(dataclasses.replace(CFG, trace_tokens=tokens, waypoints=4)).eval()
    batch = policy_batch()
    reading = policy.trace_reading(batch["image"], batch["instruction"], batch["proprio"])
    assert ("trace_gate" in reading) == (tokens != "waypoints")
    if tokens == "states":
        assert set(reading) == {"trace_gate"} and reading["trace_gate"] == 0.0  # closed at the start
        return
    n = CFG.grid ** 2
    _, mask, _ = policy.context(batch["image"], batch["instruction"], batch["proprio"])
    uniform = (n / mask.sum(-1).float()).mean().item()
    assert reading["waypoint_uniform_share"] == pytest.approx(uniform)
    assert 0.0 < reading["waypoint_attention"] < 1.0
    w = CFG.width
    with torch.no_grad():  # only waypoint tokens carry feature 0, and head 0's queries look for it alone
        policy.waypoint_in[-1].weight.zero_()
        policy.waypoint_in[-1].bias.zero_()
        policy.waypoint_in[-1].bias[0] = 1.0
        for layer in (policy.prefix_proj, policy.proprio_in):
            layer.weight[0], layer.bias[0] = 0.0, 0.0
        for block in policy.blocks:
            block.cross_attn.in_proj_weight[:2 * w] = 0.0
            block.cross_attn.in_proj_bias[:2 * w] = 0.0
            block.cross_attn.in_proj_bias[0] = 10.0  # every query of head 0 is 10·e0
            block.cross_attn.in_proj_weight[w, 0] = 10.0  # a key is 10 × the token's feature 0
    drawn = policy.trace_reading(batch["image"], batch["instruction"], batch["proprio"])
    # head 0 attends to the waypoint tokens only; the other heads' queries are zero, so they attend uniformly
    heads = CFG.heads
    assert drawn["waypoint_attention"] == pytest.approx((1 + (heads - 1) * uniform) / heads, abs=1e-3)
    assert ActionExpert(dataclasses.replace(CFG, use_trace=False)).trace_reading(
        batch["image"], batch["instruction"], batch["proprio"]) == {}


def test_wrist_tokens_read_the_wrist_view_through_mu0s_frozen_scene_encoder_in_a_trace_policy(tmp_path):
    torch.manual_seed(0)
    policy = ActionExpert(dataclasses.replace(CFG, wrist_tokens=2))
    assert not hasattr(policy, "wrist_encoder")  # borrowed from μ_0, not a second copy
    batch = policy_batch()
    wrist = torch.randint(0, 255, (4, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(5))
    with pytest.raises(ValueError, match="reads the wrist camera"):
        policy.context(batch["image"], batch["instruction"], batch["proprio"])
    plain = ActionExpert(CFG).context(batch["image"], batch["instruction"], batch["proprio"])[0]
    ctx, mask, _ = policy.context(batch["image"], batch["instruction"], batch["proprio"], wrist=wrist)
    assert ctx.shape[1] == plain.shape[1] + 4 and mask[:, -4:].all()
    other = policy.context(batch["image"], batch["instruction"], batch["proprio"], wrist=255 - wrist)[0]
    assert not torch.allclose(other[:, -4:], ctx[:, -4:]) and torch.equal(other[:, :-4], ctx[:, :-4])
    policy.compute_loss({**batch, "wrist_image": wrist})[0].backward()
    assert policy.wrist_in.weight.grad is not None
    assert all(p.grad is None for p in policy.world.expert.scene.parameters())  # μ_0 stays frozen
    folder = policy.save_pretrained(tmp_path / "p")  # no weight stored twice
    loaded = ActionExpert.from_pretrained(folder).eval()
    torch.testing.assert_close(loaded.context(batch["image"], batch["instruction"], batch["proprio"], wrist=wrist)[0],
                               policy.eval().context(batch["image"], batch["instruction"], batch["proprio"],
                                                     wrist=wrist)[0])


def test_a_scratch_policy_trains_its_own_wrist_encoder():
    torch.manual_seed(0)
    policy = ActionExpert(dataclasses.replace(CFG, use_trace=False, wrist_tokens=2))
    batch = policy_batch()
    batch["wrist_image"] = torch.randint(0, 255, (4, 3, 32, 32), dtype=torch.uint8)
    policy.compute_loss(batch)[0].backward()
    assert all(p.grad is not None for p in policy.wrist_encoder.parameters())  # every weight of it trains
    assert policy.act(batch["image"], batch["instruction"], batch["proprio"], wrist=batch["wrist_image"])[
        "actions"].shape == (4, CFG.chunk, CFG.action_dim)


def test_moving_queries_keep_the_candidates_mu0_forecasts_to_move_farthest(monkeypatch):
    cfg = dataclasses.replace(CFG, trace_tokens="waypoints", waypoints=4, trace_queries="moving", candidates=8)
    policy = ActionExpert(cfg).eval()
    batch = policy_batch(2)
    n_candidates, keep = 64, CFG.grid ** 2
    movers = torch.tensor([[3, 9, 17, 20, 26, 31, 33, 38, 40, 44, 47, 50, 55, 58, 60, 63],
                           [0, 1, 2, 5, 8, 13, 21, 34, 35, 36, 37, 41, 42, 43, 61, 62]])
    forecast = torch.zeros(2, n_candidates, 16, 3)
    for b in range(2):
        forecast[b, movers[b], -1, 0] = torch.linspace(0.2, 0.5, keep)  # these move in u by the end
    forecast[:, :, :, 2] = 5.0  # depth change does not count: only the image motion picks queries
    forecast[0, 7, -1, 2] = 9.0

    def fake_features(context, uv, steps):
        assert uv.shape == (2, n_candidates, 2) and steps == cfg.trace_steps
        states = uv.new_zeros(2, n_candidates, cfg.world.expert.width) + torch.arange(n_candidates)[None, :, None]
        return states, forecast

    monkeypatch.setattr(policy.world, "trace_features", fake_features)
    out = policy.act(batch["image"], batch["instruction"], batch["proprio"])
    for b in range(2):
        chosen = {tuple(p) for p in out["grid_uv"][b].tolist()}
        assert chosen == {tuple(p) for p in policy.candidate_grid[movers[b]].tolist()}
        # each kept keypoint brings its own forecast along
        rows = [policy.candidate_grid.tolist().index(p) for p in out["grid_uv"][b].tolist()]
        torch.testing.assert_close(out["trace"][b], forecast[b, rows])
    ctx, mask, _ = policy.context(batch["image"], batch["instruction"], batch["proprio"])
    plain = ActionExpert(CFG).context(batch["image"], batch["instruction"], batch["proprio"])[0]
    assert ctx.shape[1] == plain.shape[1] + keep and mask[:, -keep:].all()


def test_moving_queries_need_waypoint_tokens_and_enough_candidates():
    from mu0.config.base import ConfigError

    with pytest.raises(ConfigError, match="trace_queries"):
        dataclasses.replace(CFG, trace_queries="moving")  # gated states are pooled on the grid
    with pytest.raises(ConfigError, match="candidates"):
        dataclasses.replace(CFG, trace_tokens="waypoints", trace_queries="moving", candidates=2)
    policy = ActionExpert(dataclasses.replace(CFG, trace_tokens="waypoints", waypoints=4, trace_queries="moving",
                                              candidates=6)).eval()
    batch = policy_batch(2)
    out = policy.act(batch["image"], batch["instruction"], batch["proprio"])  # the real μ_0, untrained
    assert out["grid_uv"].shape == (2, 16, 2) and out["trace"].shape == (2, 16, 16, 3)


@pytest.mark.parametrize("queries", ["grid", "moving"])
def test_hand_queries_ask_mu0_around_the_hands_pixel_and_mark_those_tokens(queries):
    cfg = dataclasses.replace(CFG, trace_tokens="both" if queries == "grid" else "waypoints", waypoints=4,
                              trace_queries=queries, candidates=6, hand_queries=2, hand_spacing=0.2)
    policy = ActionExpert(cfg).eval()
    _forecasting_world(policy)
    batch = policy_batch(2)
    hand = torch.tensor([[0.3, -0.2], [0.95, 0.0]])  # the second lattice reaches past the image's edge
    with pytest.raises(ValueError, match="pass the hand's pixel"):
        policy.act(batch["image"], batch["instruction"], batch["proprio"])
    out = policy.act(batch["image"], batch["instruction"], batch["proprio"], hand_uv=hand)
    assert out["grid_uv"].shape == (2, 16 + 4, 2)
    expected = torch.tensor([[[0.2, -0.3], [0.4, -0.3], [0.2, -0.1], [0.4, -0.1]],
                             [[0.85, -0.1], [1.0, -0.1], [0.85, 0.1], [1.0, 0.1]]])  # clamped into the image
    torch.testing.assert_close(out["grid_uv"][:, -4:], expected)
    # each hand keypoint carries μ_0's own forecast there (keypoints are forecast independently)
    context = policy.world.embed(batch["image"], batch["instruction"])
    torch.testing.assert_close(out["trace"][:, -4:], policy.world.trace_features(context, expected, cfg.trace_steps)[1])
    ctx, mask, _ = policy.context(batch["image"], batch["instruction"], batch["proprio"], hand_uv=hand)
    plain = ActionExpert(dataclasses.replace(cfg, hand_queries=0)).eval()
    plain.load_state_dict(policy.state_dict(), strict=False)
    base = plain.context(batch["image"], batch["instruction"], batch["proprio"])[0]
    assert ctx.shape[1] == base.shape[1] + 4 and mask[:, -4:].all()
    with torch.no_grad():
        policy.hand_embed.add_(1.0)  # the learned mark moves the hand tokens only
    marked = policy.context(batch["image"], batch["instruction"], batch["proprio"], hand_uv=hand)[0]
    torch.testing.assert_close(marked[:, :-4], ctx[:, :-4])
    torch.testing.assert_close(marked[:, -4:], ctx[:, -4:] + 1.0)
    before = policy.hand_embed.detach().clone()
    opt = torch.optim.Adam([p for p in policy.parameters() if p.requires_grad], lr=1e-3)
    for _ in range(3):  # adaLN-Zero blocks start as the identity: the context gets gradient from step 2
        opt.zero_grad()
        policy.train().compute_loss({**batch, "hand_uv": hand})[0].backward()
        opt.step()
    assert not torch.equal(before, policy.hand_embed) and all(p.grad is None for p in policy.world.parameters())
    reading = policy.eval().trace_reading(batch["image"], batch["instruction"], batch["proprio"], hand_uv=hand)
    assert 0 < reading["hand_attention"] < reading["waypoint_attention"] <= 1
    assert reading["hand_uniform_share"] == pytest.approx(reading["waypoint_uniform_share"] * 4 / 20)


def test_hand_queries_are_waypoint_tokens():
    from mu0.config.base import ConfigError

    with pytest.raises(ConfigError, match="hand_queries"):
        dataclasses.replace(CFG, hand_queries=2)  # trace_tokens "states": nothing would carry them
    with pytest.raises(ConfigError, match="hand_xyz"):
        dataclasses.replace(CFG, trace_tokens="waypoints", hand_queries=1, hand_xyz=(0, 1, 7))
