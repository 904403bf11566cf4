"""A trace policy's training reads frozen μ_0 once per sample: the loss with the cache is the loss without it,
a sample seen before is not read again, and a sample that comes back changed is refused."""

import dataclasses

import pytest
import torch

from mu0.models.action_expert import ActionExpert
from tests.policies import POLICY


def _batch(episodes: list[int], frames: list[int], seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    b = len(episodes)
    return {"image": torch.randint(0, 255, (b, 3, 32, 32), dtype=torch.uint8, generator=g),
            # instructions of different lengths: the cache re-pads μ_0's prefix for each batch
            "instruction": ["open the drawer", "push the puck to the far goal"] * (b // 2),
            "proprio": torch.randn(b, 4, generator=g), "actions": torch.rand(b, 4, 4, generator=g) * 2 - 1,
            "action_valid": torch.ones(b, 4, dtype=torch.bool), "hand_uv": torch.rand(b, 2, generator=g) * 2 - 1,
            "episode": torch.tensor(episodes), "frame": torch.tensor(frames)}


def _policy(**overrides) -> ActionExpert:
    torch.manual_seed(0)
    policy = ActionExpert(dataclasses.replace(POLICY, **overrides))
    with torch.no_grad():  # off initialisation, so that μ_0's forecast matters to the loss
        for p in policy.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return policy.train()


@pytest.mark.parametrize("overrides", [{"trace_tokens": "both"}, {"trace_tokens": "waypoints", "hand_queries": 2},
                                       {"trace_tokens": "waypoints", "train_backbone": True}])
def test_the_loss_with_reused_forecasts_is_the_loss_without(overrides):
    policy = _policy(**overrides)
    first = _batch([0, 0, 1, 1], [0, 1, 0, 1])
    plain = {k: v for k, v in first.items() if k not in ("episode", "frame")}
    reads = []
    embed = policy.world.embed
    policy.world.embed = lambda images, texts: reads.append(len(images)) or embed(images, texts)
    torch.manual_seed(1)
    expected = policy.compute_loss(plain)[0]
    torch.manual_seed(1)
    cached = policy.compute_loss(first)[0]
    assert torch.allclose(cached, expected, atol=1e-5)
    assert reads == [4, 4] and len(policy._forecasts) == 4
    # the next batch: two samples seen before, in another order and beside other rows, two new ones
    second = _batch([1, 2, 0, 2], [1, 0, 0, 1])
    for k in ("image", "proprio", "hand_uv"):  # the rows seen before bring the same inputs again
        second[k][0], second[k][2] = first[k][3], first[k][0]
    second["instruction"] = [first["instruction"][3], "push the puck to the far goal", first["instruction"][0],
                             "open"]
    torch.manual_seed(2)
    expected = policy.compute_loss({k: v for k, v in second.items() if k not in ("episode", "frame")})[0]
    torch.manual_seed(2)
    cached = policy.compute_loss(second)[0]
    assert torch.allclose(cached, expected, atol=1e-5)
    assert reads == [4, 4, 4, 2] and len(policy._forecasts) == 6  # only the two new rows were read


def test_a_sample_that_comes_back_changed_is_refused_and_evaluation_never_caches():
    assert not ActionExpert(POLICY).world.training  # frozen μ_0 reads the same in every mode, from the start
    policy = _policy(trace_tokens="waypoints")
    batch = _batch([0, 0], [0, 1])
    policy.compute_loss(batch)
    flipped = batch["image"].clone()
    flipped[1] = flipped[1].flip(-1)  # the same bytes elsewhere: the byte sum alone would not see it
    changed = dict(batch, image=flipped)
    with pytest.raises(ValueError, match=r"training sample \(0, 1\).*came back with other inputs"):
        policy.compute_loss(changed)
    policy.eval()
    policy.compute_loss(changed)  # outside training nothing is cached or checked
    assert len(policy._forecasts) == 2
