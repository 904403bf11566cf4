import dataclasses

import pytest
import torch

from mu0.config import BackboneConfig, TraceExpertConfig, WorldModelConfig
from mu0.models.scene_encoder import SceneEncoder, random_shift
from mu0.models.world_model import Mu0WorldModel

CFG = WorldModelConfig(backbone=BackboneConfig(image_size=32, patch_size=8),
                       expert=TraceExpertConfig(width=32, layers=2, heads=4, scene_encoder=True, scene_size=32,
                                                prior="none", predicts="clean"),
                       horizon=16, history=4)


def test_any_image_size_becomes_one_vector_and_one_stride_4_grid_per_image():
    encoder = SceneEncoder(24, size=32)
    out = encoder(torch.randint(0, 255, (3, 3, 40, 56), dtype=torch.uint8))
    assert out.vector.shape == (3, 24)
    assert out.grid.shape == (3, encoder.grid_channels, 8, 8)
    with pytest.raises(ValueError, match="multiple of 16"):
        SceneEncoder(24, size=40)


def test_a_random_shift_is_a_window_of_the_edge_padded_image_and_only_in_training():
    torch.manual_seed(0)
    x = torch.randn(8, 3, 16, 16)
    padded = torch.nn.functional.pad(x, (3,) * 4, mode="replicate")
    shifted = random_shift(x, 3)
    offsets = set()
    for i in range(8):
        found = [(dy, dx) for dy in range(7) for dx in range(7)
                 if torch.equal(shifted[i], padded[i, :, dy:dy + 16, dx:dx + 16])]
        assert found, f"image {i} is not a window of its padded self"
        offsets.add(found[0])
    assert len(offsets) > 1  # each image draws its own offset
    encoder = SceneEncoder(8, size=16, shift=3).eval()
    images = torch.randint(0, 255, (2, 3, 16, 16), dtype=torch.uint8)
    torch.testing.assert_close(encoder(images).vector, encoder(images).vector)
    assert not torch.equal(encoder.train()(images).vector, encoder.train()(images).vector)


def _fit(model, batch, steps: int) -> None:
    """Adam on one fixed batch for `steps` steps, then eval mode."""
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(steps):
        loss, _ = model.compute_loss(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()


def _scenes_that_decide_the_motion():
    """Two scenes, one bright on the left and one on the right; the same keypoints, instruction and (no) history.
    In the first every keypoint moves right, in the second left."""
    image = torch.zeros(2, 3, 32, 32, dtype=torch.uint8)
    image[0, :, :, :16] = 255
    image[1, :, :, 16:] = 255
    s = torch.linspace(0, 1, 16)
    direction = torch.tensor([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]])
    future = (direction[:, None, None, :] * s[None, None, :, None]).expand(2, 4, 16, 3).clone()
    uv = torch.tensor([[-0.5, -0.5], [0.5, -0.5], [-0.5, 0.5], [0.5, 0.5]]).expand(2, 4, 2)
    return {"image": image, "instruction": ["move", "move"], "points_uv": uv.clone(),
            "history": torch.zeros(2, 4, 4, 3), "history_valid": torch.zeros(2, 4, 4, dtype=torch.bool),
            "point_mask": torch.ones(2, 4, dtype=torch.bool), "future": future,
            "future_valid": torch.ones(2, 4, 16, dtype=torch.bool), "z_valid": torch.ones(2, dtype=torch.bool)}


def test_the_scene_encoding_carries_what_the_image_says_about_the_motion():
    torch.manual_seed(0)
    model = Mu0WorldModel(CFG)
    batch = _scenes_that_decide_the_motion()
    _fit(model, batch, 150)
    end_u = model.predict_point(batch)[:, :, -1, 0]  # where each keypoint ends, horizontally
    assert (end_u[0] > 0.5).all() and (end_u[1] < -0.5).all(), end_u

    with torch.no_grad():  # the first scene's prefix, the second scene's encoding: the motion follows the encoding
        context = model.embed(batch["image"], list(batch["instruction"]))
        swapped = context._replace(scene=type(context.scene)(*(part.flip(0) for part in context.scene)))
        zero = torch.zeros(2, 4, CFG.expert.num_ctrl, 3)
        clean, _ = model.expert(swapped.prefix, swapped.mask, batch["points_uv"], batch["history"],
                                batch["history_valid"], batch["point_mask"], zero, torch.ones(2), None, swapped.scene)
        end_swapped = model.spline.render(clean)[:, :, -1, 0]
    assert (end_swapped[0] < 0).all() and (end_swapped[1] > 0).all(), end_swapped


def test_an_expert_that_reads_the_scene_refuses_to_run_without_it():
    model = Mu0WorldModel(CFG)
    batch = _scenes_that_decide_the_motion()
    context = model.embed(batch["image"], list(batch["instruction"]))
    with pytest.raises(ValueError, match="reads the scene"):
        model.expert(context.prefix, context.mask, batch["points_uv"], batch["history"], batch["history_valid"],
                     batch["point_mask"], torch.zeros(2, 4, 10, 3), torch.ones(2))


def test_a_model_without_the_scene_encoder_has_no_scene():
    plain = Mu0WorldModel(dataclasses.replace(CFG, expert=dataclasses.replace(CFG.expert, scene_encoder=False)))
    batch = _scenes_that_decide_the_motion()
    assert plain.embed(batch["image"], list(batch["instruction"])).scene is None
    assert not any(name.startswith("expert.scene") for name, _ in plain.named_parameters())


def test_scene_point_features_tell_two_keypoints_apart_by_what_lies_under_them():
    """One scene, one instruction, no history: the keypoint on the bright square moves, the one beside it stays.
    The scene vector is the same for both, so only the grid read at each (u, v) can tell them apart."""
    torch.manual_seed(0)
    cfg = dataclasses.replace(CFG, expert=dataclasses.replace(CFG.expert, scene_point_features=True, layers=1))
    model = Mu0WorldModel(cfg)
    image = torch.zeros(4, 3, 32, 32, dtype=torch.uint8)
    corners = [(0, 0), (0, 16), (16, 0), (16, 16)]  # the bright square sits in a different quadrant per image
    centres = torch.tensor([[-0.5, -0.5], [0.5, -0.5], [-0.5, 0.5], [0.5, 0.5]])
    for i, (r, c) in enumerate(corners):
        image[i, :, r:r + 16, c:c + 16] = 255
    uv = torch.stack([centres, centres.flip(0)], dim=1)  # point 0 on the square, point 1 in the opposite quadrant
    s = torch.linspace(0, 1, 16)
    future = torch.zeros(4, 2, 16, 3)
    future[:, 0, :, 1] = s  # the point on the square moves down; the other stays
    batch = {"image": image, "instruction": ["move"] * 4, "points_uv": uv, "history": torch.zeros(4, 2, 4, 3),
             "history_valid": torch.zeros(4, 2, 4, dtype=torch.bool), "point_mask": torch.ones(4, 2, dtype=torch.bool),
             "future": future, "future_valid": torch.ones(4, 2, 16, dtype=torch.bool),
             "z_valid": torch.ones(4, dtype=torch.bool)}
    _fit(model, batch, 200)
    end_v = model.predict_point(batch)[:, :, -1, 1]
    assert (end_v[:, 0] > 0.6).all() and (end_v[:, 1].abs() < 0.3).all(), end_v
