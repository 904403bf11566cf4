"""A sampler's shortcuts change no result: the trace expert's ExpertSampler gives forward_with_states' outputs
at every Euler step, a block's modulations projected for all steps at once are each step's own, and a last
block that keeps only the future tokens gives the full block's future tokens, and a policy's plan with its
context keys and modulations projected once is the plan without."""

import dataclasses

import pytest
import torch

from mu0.config import BackboneConfig, TraceExpertConfig, WorldModelConfig
from mu0.models.action_expert import ActionExpert
from mu0.models.expert_block import ExpertBlock, step_modulations
from mu0.models.flow_matching import euler, euler_times
from mu0.models.world_model import Mu0WorldModel
from tests.policies import POLICY

CFG = WorldModelConfig(backbone=BackboneConfig(image_size=32, patch_size=8),
                       expert=TraceExpertConfig(width=32, layers=2, heads=4), horizon=16, history=4)


def _perturbed(module: torch.nn.Module) -> torch.nn.Module:
    """Off its initialisation (adaLN-Zero blocks start as the identity, which would hide any difference)."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return module.eval()


@pytest.mark.parametrize("isolate", [True, False])
def test_the_sampler_gives_forward_with_states_at_every_euler_step(isolate):
    cfg = dataclasses.replace(CFG, expert=dataclasses.replace(CFG.expert, isolate_keypoints=isolate))
    torch.manual_seed(0)
    model = _perturbed(Mu0WorldModel(cfg))
    g = torch.Generator().manual_seed(2)
    b, n = 2, 5
    images = torch.randint(0, 255, (b, 3, 32, 32), dtype=torch.uint8, generator=g)
    uv = torch.rand(b, n, 2, generator=g) * 2 - 1
    history = torch.randn(b, n, cfg.history, 3, generator=g)
    history_valid = torch.rand(b, n, cfg.history, generator=g) > 0.3
    point_mask = torch.tensor([[True] * n, [True] * 3 + [False] * 2])
    steps, total = 3, 5
    with torch.no_grad():
        context = model.embed(images, ["push the block", "open the drawer"])
        shared = (context.prefix, context.mask, uv, history, history_valid, point_mask)
        sampler = model.expert.sampler(*shared, euler_times(steps, total, b), context.patches, context.scene)
        seen = []

        def velocity(x, t):
            expected = model.expert.forward_with_states(*shared, x, t, context.patches, context.scene)
            got = sampler(x)
            seen.append(t)
            for a, e in zip(got, expected, strict=True):
                torch.testing.assert_close(a, e, atol=2e-5, rtol=1e-4)
            return got[0]

        euler(torch.randn(b, n, cfg.expert.num_ctrl, 3, generator=g), velocity, steps, total)
        assert len(seen) == steps
        with pytest.raises(RuntimeError, match="prepared for 3 Euler steps"):
            sampler(torch.zeros(b, n, cfg.expert.num_ctrl, 3))


def test_modulations_of_all_steps_at_once_are_each_steps_own():
    torch.manual_seed(3)
    block = _perturbed(ExpertBlock(16, 2))
    conds = torch.randn(4, 2, 16)  # 4 steps, batch 2
    at_once = step_modulations(torch.nn.ModuleList([block]), conds)
    assert len(at_once) == 4
    for step, cond in enumerate(conds):
        for a, e in zip(at_once[step][0], block.modulation(cond), strict=True):
            torch.testing.assert_close(a, e, atol=1e-6, rtol=1e-5)


def test_a_block_keeping_only_future_tokens_gives_the_full_blocks_futures():
    torch.manual_seed(4)
    block = _perturbed(ExpertBlock(16, 2))
    x, cond = torch.randn(2, 2 * 6, 16), torch.randn(2, 16)
    prefix, pad = torch.randn(2, 5, 16), torch.zeros(2, 5, dtype=torch.bool)
    full = block(x, cond, prefix, pad, None, None, pairs=True)
    futures = block(x, cond, prefix, pad, None, None, pairs=True, futures_only=True)
    assert futures.shape == (2, 6, 16)
    torch.testing.assert_close(futures, full[:, 1::2], atol=1e-6, rtol=1e-5)


def test_a_policys_plan_with_its_steps_shared_work_done_once_is_the_plan_without():
    torch.manual_seed(5)
    policy = _perturbed(ActionExpert(dataclasses.replace(POLICY, trace_tokens="waypoints", trace_steps=2)))
    g = torch.Generator().manual_seed(6)
    images = torch.randint(0, 255, (2, 3, 32, 32), dtype=torch.uint8, generator=g)
    args = (images, ["open the drawer", "push the puck"], torch.randn(2, 4, generator=g),
            torch.randn(2, POLICY.chunk, POLICY.action_dim, generator=g), None, None)
    with torch.no_grad():
        shared = policy._act(*args, precompute=True)
        plain = policy._act(*args, precompute=False)
    torch.testing.assert_close(shared["actions"], plain["actions"], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(shared["trace"], plain["trace"])
