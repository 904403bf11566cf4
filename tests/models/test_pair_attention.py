"""The attention shortcuts (mu0.models.attention) give what nn.MultiheadAttention's own forward gives: isolated
keypoints attended two keys at a time, tokens that all see each other, a context projected once."""

import torch
from torch import nn

from mu0.models.attention import context_keys, cross_attention, pair_attention, self_attention


def _isolation_mask(n: int) -> torch.Tensor:
    """The (2n, 2n) mask (True = may not attend) of isolated keypoints: own pair only, history not to future."""
    token = torch.arange(2 * n)
    is_future = token % 2 == 1
    return (~is_future[:, None] & is_future[None, :]) | (token[:, None] // 2 != token[None, :] // 2)


def test_pair_attention_equals_full_attention_under_the_isolation_mask_with_its_gradients():
    torch.manual_seed(0)
    attn = nn.MultiheadAttention(32, 4, batch_first=True)
    x = torch.randn(3, 2 * 7, 32, requires_grad=True)
    full = attn(x, x, x, attn_mask=_isolation_mask(7), need_weights=False)[0]
    (grad_full,) = torch.autograd.grad(full.square().sum(), x)
    pairs = pair_attention(attn, x)
    (grad_pairs,) = torch.autograd.grad(pairs.square().sum(), x)
    assert torch.allclose(pairs, full, atol=1e-5)
    assert torch.allclose(grad_pairs, grad_full, atol=1e-4)


def test_a_history_token_reads_only_its_own_value():
    torch.manual_seed(1)
    attn = nn.MultiheadAttention(16, 2, batch_first=True)
    x = torch.randn(1, 2 * 4, 16)
    y = x.clone()
    y[:, 1::2] = torch.randn(1, 4, 16)  # every future token changed: no history output may move
    assert torch.allclose(pair_attention(attn, x)[:, 0::2], pair_attention(attn, y)[:, 0::2], atol=1e-6)
    assert not torch.allclose(pair_attention(attn, x)[:, 1::2], pair_attention(attn, y)[:, 1::2], atol=1e-3)


def test_self_and_cross_attention_shortcuts_equal_the_modules_forward_with_their_gradients():
    torch.manual_seed(2)
    attn = nn.MultiheadAttention(32, 4, batch_first=True)
    x = torch.randn(2, 8, 32, requires_grad=True)
    full = attn(x, x, x, need_weights=False)[0]
    short = self_attention(attn, x)
    assert torch.allclose(short, full, atol=1e-5)
    assert torch.allclose(torch.autograd.grad(short.square().sum(), x)[0],
                          torch.autograd.grad(full.square().sum(), x)[0], atol=1e-4)
    context, pad = torch.randn(2, 5, 32), torch.tensor([[False] * 5, [False] * 3 + [True] * 2])
    full = attn(x, context, context, key_padding_mask=pad, need_weights=False)[0]
    assert torch.allclose(cross_attention(attn, x, context_keys(attn, context, pad)), full, atol=1e-5)
