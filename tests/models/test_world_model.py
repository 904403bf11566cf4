import dataclasses

import pytest
import torch

from mu0.config import BackboneConfig, TraceExpertConfig, WorldModelConfig
from mu0.models.trace_expert import sample_patches
from mu0.models.world_model import Mu0WorldModel

CFG = WorldModelConfig(backbone=BackboneConfig(image_size=32, patch_size=8),
                       expert=TraceExpertConfig(width=32, layers=2, heads=4), horizon=16, history=4)


def make_batch(b=2, n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    s = torch.linspace(0, 1, 16)
    direction = torch.randn(b, n, 1, 3, generator=g)
    future = direction * s[None, None, :, None]  # straight lines, a different one per keypoint
    valid = torch.ones(b, n, 16, dtype=torch.bool)
    valid[:, -1, 10:] = False
    return {
        "image": torch.randint(0, 255, (b, 3, 40, 48), dtype=torch.uint8, generator=g),
        "instruction": ["push the block", "open the drawer"][:b],
        "points_uv": torch.rand(b, n, 2, generator=g) * 2 - 1,
        "history": torch.randn(b, n, 4, 3, generator=g) * 0.1,
        "history_valid": torch.ones(b, n, 4, dtype=torch.bool),
        "point_mask": torch.tensor([[True] * n, [True] * (n - 2) + [False] * 2])[:b],
        "future": future, "future_valid": valid, "z_valid": torch.ones(b, dtype=torch.bool),
    }


def test_loss_and_sampling_shapes():
    torch.manual_seed(0)
    model = Mu0WorldModel(CFG)
    loss, info = model.compute_loss(make_batch())
    assert torch.isfinite(loss) and info["keypoints"] == 10
    out = model.sample(make_batch(), steps=3)
    assert out["ctrl"].shape == (2, 6, 10, 3) and out["trace"].shape == (2, 6, 16, 3)
    assert out["valid_prob"].shape == (2, 6, 16) and float(out["valid_prob"].min()) > 0.9  # bias 3 at start


def test_expert_blocks_start_as_identity_and_are_permutation_equivariant():
    torch.manual_seed(0)
    model = Mu0WorldModel(CFG).eval()
    block = model.expert.blocks[0]
    x = torch.randn(2, 12, 32)
    out = block(x, torch.randn(2, 32), torch.randn(2, 5, 32), torch.zeros(2, 5, dtype=torch.bool), None, None)
    torch.testing.assert_close(out, x)
    for p in model.expert.parameters():  # leave initialisation so that the test is not trivial
        p.data.add_(torch.randn_like(p) * 0.05)
    batch = make_batch(b=1)
    batch["point_mask"][:] = True
    noise = torch.randn(1, 6, 10, 3)
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    shuffled = dict(batch, **{k: batch[k][:, perm] for k in ("points_uv", "history", "history_valid", "point_mask",
                                                                 "future", "future_valid")})
    a = model.sample(batch, steps=2, noise=noise)["ctrl"]
    b = model.sample(shuffled, steps=2, noise=noise[:, perm])["ctrl"]
    torch.testing.assert_close(a[:, perm], b, atol=1e-5, rtol=1e-4)


def test_a_few_steps_fit_one_batch():
    torch.manual_seed(0)
    model = Mu0WorldModel(CFG)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    batch = make_batch()
    first = None
    losses = []
    for _ in range(80):
        torch.manual_seed(1)  # same noise and times every step: a fixed regression problem
        loss, _ = model.compute_loss(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        first = first or losses[-1]
    assert losses[-1] < 0.5 * first, losses[::10]


def test_frozen_backbone_gets_no_gradient():
    model = Mu0WorldModel(dataclasses.replace(CFG, backbone=dataclasses.replace(CFG.backbone, freeze=True)))
    loss, _ = model.compute_loss(make_batch())
    loss.backward()
    assert all(p.grad is None for p in model.backbone.parameters())
    assert any(p.grad is not None for p in model.expert.parameters())


def test_save_and_load_round_trip(tmp_path):
    torch.manual_seed(0)
    model = Mu0WorldModel(CFG).eval()
    folder = model.save_pretrained(tmp_path / "mu0")
    assert {p.name for p in folder.iterdir()} == {"config.json", "model.safetensors", "README.md"}  # + model card
    loaded = Mu0WorldModel.from_pretrained(folder).eval()
    noise = torch.randn(2, 6, 10, 3)
    before = model.sample(make_batch(), 2, noise)["trace"]
    torch.testing.assert_close(before, loaded.sample(make_batch(), 2, noise)["trace"])
    assert loaded.cfg == CFG


def test_two_d_only_samples_have_no_depth_target():
    torch.manual_seed(0)
    model = Mu0WorldModel(CFG)
    batch = make_batch()
    batch["z_valid"][:] = False
    torch.manual_seed(2)
    loss_a, _ = model.compute_loss(batch)
    batch["future"] = batch["future"].clone()
    batch["future"][..., 2] = 100.0  # nonsense depth must not matter
    torch.manual_seed(2)
    loss_b, _ = model.compute_loss(batch)
    assert loss_a.item() == pytest.approx(loss_b.item(), rel=1e-5)


def test_rigidity_loss_is_zero_for_rigid_motion_and_trains():
    from mu0.models.world_model import rigidity_loss

    k = torch.linspace(0, 1, 10)[:, None]
    base = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    rigid = base[None, :, None, :] + k * torch.tensor([1.0, 2.0, 0.5])  # (1,3,10,3): translate together
    ids = torch.tensor([[1, 1, 1]])
    ok = torch.ones(1, 3, dtype=torch.bool)
    assert float(rigidity_loss(rigid, ids, ok)) == pytest.approx(0.0, abs=1e-10)
    bent = rigid.clone()
    bent[0, 2, :, 1] += k[:, 0] * 3  # one point drifts away from the others
    assert float(rigidity_loss(bent, ids, ok)) > 0.1
    assert float(rigidity_loss(bent, torch.tensor([[1, 1, 2]]), ok)) == pytest.approx(0.0, abs=1e-10)
    model = Mu0WorldModel(dataclasses.replace(CFG, expert=dataclasses.replace(CFG.expert, rigidity_weight=5.0)))
    batch = dict(make_batch(), cluster_ids=torch.ones(2, 6, dtype=torch.long))
    loss, info = model.compute_loss(batch)
    loss.backward()
    assert "rigidity" in info and info["loss"] > info["flow"]


def test_point_estimate_starts_from_the_noise_mean():
    torch.manual_seed(0)
    model = Mu0WorldModel(CFG).eval()
    batch = make_batch()
    a, b = model.predict_point(batch), model.predict_point(batch)
    assert torch.equal(a, b) and a.shape == (2, 6, 16, 3)
    zero = torch.zeros(1, 2, 6, 10, 3)
    assert torch.allclose(a, model.sample_many(batch, 1, noise=zero)["trace"][0])


def test_constant_velocity_prior_is_what_a_silent_expert_predicts(monkeypatch):
    from mu0.models.baselines.kinematic import constant_velocity

    cfg = dataclasses.replace(CFG, expert=dataclasses.replace(CFG.expert, prior="constant_velocity"))
    model = Mu0WorldModel(cfg).eval()
    batch = make_batch()

    def silent(prefix, prefix_mask, uv, history, history_valid, point_mask, x_t, t, patches=None, scene=None):
        return torch.zeros_like(x_t), torch.zeros(*uv.shape[:2], cfg.horizon)

    monkeypatch.setattr(model.expert, "forward", silent)
    cv = constant_velocity(batch["history"], batch["history_valid"], cfg.horizon)
    assert torch.allclose(model.predict_point(batch), cv, atol=0.02 * float(cv.abs().max()))
    no_history = dict(batch, history_valid=torch.zeros_like(batch["history_valid"]))
    assert torch.count_nonzero(model.predict_point(no_history)) == 0  # without history: the recipe's deltas
    with pytest.raises(ValueError, match="prior"):
        WorldModelConfig(expert=TraceExpertConfig(prior="ballistic"))


def test_keypoint_features_read_the_patch_under_the_point():
    g = 4
    patches = torch.arange(2 * g * g, dtype=torch.float32).reshape(1, 2, g, g)  # two channels, distinct cells
    rows, cols = torch.tensor([0, 1, 3, 2]), torch.tensor([0, 3, 1, 2])
    centres = torch.stack([(cols + 0.5) / g * 2 - 1, (rows + 0.5) / g * 2 - 1], dim=-1)[None]  # u across, v down
    torch.testing.assert_close(sample_patches(patches, centres)[0], patches[0, :, rows, cols].T)
    edge = sample_patches(patches, torch.tensor([[[-1.0, -1.0]]]))[0, 0]  # the image corner: the corner cell
    torch.testing.assert_close(edge, patches[0, :, 0, 0])


def test_the_backbone_grid_is_what_the_expert_reads():
    torch.manual_seed(0)
    model = Mu0WorldModel(dataclasses.replace(CFG, expert=dataclasses.replace(CFG.expert, keypoint_features=True)))
    batch = make_batch()
    prefix, mask, patches, _ = model.embed(batch["image"], list(batch["instruction"]))  # a WorldContext
    g = CFG.backbone.image_size // CFG.backbone.patch_size
    assert patches.shape == (2, CFG.backbone.vision_hidden, g, g)
    with pytest.raises(ValueError, match="patch grid"):
        model.expert(prefix, mask, batch["points_uv"], batch["history"], batch["history_valid"], batch["point_mask"],
                     torch.zeros(2, 6, 10, 3), torch.ones(2))
    for p in model.expert.parameters():  # off the zero-initialised heads and gates, gradients reach the features
        p.data.add_(torch.randn_like(p) * 0.05)
    loss, _ = model.compute_loss(batch)
    loss.backward()
    assert model.expert.point_features.mlp[1].weight.grad.abs().sum() > 0
    plain = Mu0WorldModel(CFG)
    assert plain.embed(batch["image"], list(batch["instruction"])).patches is None
    assert sum(p.numel() for p in plain.parameters()) < sum(p.numel() for p in model.parameters())


def test_depth_is_coloured_over_its_log_range_near_at_the_top():
    import numpy as np

    from mu0.models.depth_image import _turbo, colorize_depth, log_depth_range

    depth = torch.tensor([[[[0.5, 1.0, 2.0, float("nan"), 0.0, 100.0]]]])
    rgb = colorize_depth(depth, (np.log(0.5), np.log(2.0)))
    lut = _turbo()
    expected = lut[torch.tensor([255, 128, 0, 0, 0, 0])]  # near top, middle, far, holes and beyond: far end
    torch.testing.assert_close(rgb[0, :, 0].T, expected)
    frames = [np.exp(np.linspace(0.0, 1.0, 101, dtype=np.float32)), np.array([np.nan, -1.0], np.float32)]
    low, high = log_depth_range(frames)
    assert abs(low - 0.01) < 1e-5 and abs(high - 0.99) < 1e-5
    with pytest.raises(ValueError, match="no width"):
        log_depth_range([np.ones(10, np.float32)])
    with pytest.raises(ValueError, match="no finite positive depth"):
        log_depth_range([np.full(3, np.nan, np.float32)])


DEPTH_CFG = dataclasses.replace(CFG, backbone=dataclasses.replace(CFG.backbone, depth_image=True,
                                                                  depth_log_range=(-1.0, 1.5)))


def test_the_depth_image_is_read_only_where_it_is_shown():
    torch.manual_seed(0)
    model = Mu0WorldModel(DEPTH_CFG).eval()
    for p in model.expert.parameters():  # off the zero-initialised heads and gates, the prefix matters
        p.data.add_(torch.randn_like(p) * 0.05)
    batch = make_batch()
    near, far = torch.full((2, 1, 40, 48), 0.5), torch.full((2, 1, 40, 48), 3.0)
    noise = torch.randn(1, 2, 6, 10, 3)

    def ctrl(depth):
        return model.sample_many(dict(batch, **({} if depth is None else {"depth": depth})), 1, 2, noise)["ctrl"]

    mask = model.embed(batch["image"], list(batch["instruction"]), far).mask
    image_tokens = model.backbone.num_image_tokens
    assert mask[:, : 2 * image_tokens].all()  # both slots read
    hidden = model.embed(batch["image"], list(batch["instruction"])).mask
    assert not hidden[:, image_tokens: 2 * image_tokens].any() and hidden[:, :image_tokens].all()
    assert not torch.allclose(ctrl(near), ctrl(far))
    torch.testing.assert_close(ctrl(None), ctrl(torch.full_like(far, float("nan"))))  # no depth: hidden
    model.train()
    dropped = Mu0WorldModel(dataclasses.replace(DEPTH_CFG, backbone=dataclasses.replace(
        DEPTH_CFG.backbone, depth_dropout=1.0))).train()
    assert not dropped._depth_inputs(far)[1].any() and model._depth_inputs(far)[0].dtype == torch.uint8
    unset = Mu0WorldModel(dataclasses.replace(CFG, backbone=dataclasses.replace(CFG.backbone, depth_image=True)))
    with pytest.raises(ValueError, match="depth_log_range is unset"):
        unset.embed(batch["image"], list(batch["instruction"]), far)


def test_clean_and_velocity_outputs_describe_one_flow(monkeypatch):
    """An expert that says "the clean points are P" (predicts='clean') and one that says the matching velocity
    (x_t − P)/t (predicts='velocity') sample the same trace from the same noise, ending at P; the 'clean' loss
    is the squared error of the clean points themselves."""
    batch = make_batch()
    target = torch.randn(2, 6, 10, 3)
    noise = torch.randn(1, 2, 6, 10, 3)
    ends = {}
    for predicts in ("clean", "velocity"):
        cfg = dataclasses.replace(CFG, expert=dataclasses.replace(CFG.expert, prior="none", predicts=predicts))
        model = Mu0WorldModel(cfg).eval()

        def says_target(prefix, prefix_mask, uv, history, history_valid, point_mask, times, patches=None, scene=None,
                        predicts=predicts):
            steps = iter(times)  # the sampler's steps, in order

            def step(x_t):
                t = next(steps)
                out = target if predicts == "clean" else (x_t - target) / t[:, None, None, None]
                return out, torch.zeros(*uv.shape[:2], CFG.horizon), None

            return step

        monkeypatch.setattr(model.expert, "sampler", says_target)
        ends[predicts] = model.sample_many(batch, 1, steps=4, noise=noise)["ctrl"][0]
    torch.testing.assert_close(ends["clean"], target, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ends["velocity"], target, atol=1e-5, rtol=1e-5)

    cfg = dataclasses.replace(CFG, expert=dataclasses.replace(CFG.expert, prior="none", predicts="clean"))
    model = Mu0WorldModel(cfg)
    fitted = model.spline.fit(batch["future"], batch["future_valid"])
    monkeypatch.setattr(model.expert, "forward", lambda *a, **k: (fitted, torch.zeros(2, 6, cfg.horizon)))
    assert model.compute_loss(batch)[1]["flow"] == pytest.approx(0.0, abs=1e-10)
    monkeypatch.setattr(model.expert, "forward", lambda *a, **k: (fitted + 0.5, torch.zeros(2, 6, cfg.horizon)))
    assert model.compute_loss(batch)[1]["flow"] == pytest.approx(3 * 0.25, rel=1e-5)  # 3 axes of 0.5²
    with pytest.raises(ValueError, match="predicts"):
        TraceExpertConfig(predicts="noise")


def test_a_conv_stem_reaches_the_same_patch_grid_and_learns(tmp_path):
    torch.manual_seed(0)
    cfg = dataclasses.replace(CFG, backbone=dataclasses.replace(CFG.backbone, conv_stem=True),
                              expert=dataclasses.replace(CFG.expert, keypoint_features=True))
    model = Mu0WorldModel(cfg)
    stem = model.backbone.model.vision_model.embeddings.patch_embedding
    assert isinstance(stem, torch.nn.Sequential) and len([m for m in stem if isinstance(m, torch.nn.Conv2d)]) == 3
    batch = make_batch()
    context = model.embed(batch["image"], list(batch["instruction"]))
    g = CFG.backbone.image_size // CFG.backbone.patch_size
    assert context.patches.shape == (2, CFG.backbone.vision_hidden, g, g)
    plain = Mu0WorldModel(dataclasses.replace(cfg, backbone=CFG.backbone))
    assert context.prefix.shape == plain.embed(batch["image"], list(batch["instruction"])).prefix.shape
    for p in model.expert.parameters():  # off the zero-initialised heads and gates, gradients reach the stem
        p.data.add_(torch.randn_like(p) * 0.05)
    model.compute_loss(batch)[0].backward()
    assert stem[0].weight.grad.abs().sum() > 0
    folder = model.save_pretrained(tmp_path / "m")
    assert torch.equal(Mu0WorldModel.from_pretrained(folder).backbone.model.vision_model.embeddings
                       .patch_embedding[0].weight, stem[0].weight)
    for bad in (dict(conv_stem=True, patch_size=6, image_size=36), dict(conv_stem=True, pretrained="/somewhere")):
        with pytest.raises(ValueError, match="conv_stem"):
            BackboneConfig(**bad)


def test_isolated_keypoints_forecast_alone_and_padding_stays_finite():
    """With `isolate_keypoints` moving one keypoint leaves every other keypoint's forecast as it was (it does
    not without), and a frame whose keypoints are mostly padding still gives finite outputs and loss."""
    torch.manual_seed(0)
    noise = torch.randn(1, 1, 6, 10, 3)
    for isolate in (True, False):
        model = Mu0WorldModel(dataclasses.replace(CFG, expert=dataclasses.replace(CFG.expert,
                                                                                  isolate_keypoints=isolate))).eval()
        for p in model.expert.parameters():  # off the zero-initialised gates, so attention matters
            p.data.add_(torch.randn_like(p) * 0.05)
        batch = make_batch(b=1)
        moved = dict(batch, points_uv=batch["points_uv"].clone())
        moved["points_uv"][0, 3] = -moved["points_uv"][0, 3]
        a = model.sample_many(batch, 1, 2, noise)["ctrl"][0, 0]
        b = model.sample_many(moved, 1, 2, noise)["ctrl"][0, 0]
        others = [0, 1, 2, 4, 5]
        assert torch.allclose(a[others], b[others], atol=1e-6) == isolate
        assert not torch.allclose(a[3], b[3], atol=1e-6)
    sparse = make_batch(b=2)
    sparse["point_mask"][1, 1:] = False
    model = Mu0WorldModel(dataclasses.replace(CFG, expert=dataclasses.replace(CFG.expert, isolate_keypoints=True)))
    loss, _ = model.compute_loss(sparse)
    assert torch.isfinite(loss) and torch.isfinite(model.sample(sparse, steps=2)["ctrl"]).all()
