"""Attention computed from an nn.MultiheadAttention's own weights where its general forward does needless work:
isolated keypoints' self-attention two keys at a time, and cross-attention to a context whose keys and values
are projected once for all the Euler steps of a sample. Shapes: b batch, n keypoints, m tokens, l context
tokens, w width, h heads, d = w / h."""

from __future__ import annotations

import dataclasses

import torch
from torch import nn


def pair_attention(attn: nn.MultiheadAttention, x: torch.Tensor) -> torch.Tensor:
    """`attn`'s self-attention over (b, 2n, w) tokens in (history, future) pairs where each pair sees only itself
    and a history token not its future: the history token's output is its own value, the future's a softmax over
    the pair's two keys. The same result as full attention under that (2n)² mask (isolate_keypoints), with 2 keys
    per token instead of 2n."""
    b, m, w = x.shape
    heads = attn.num_heads
    d = w // heads
    qkv = nn.functional.linear(x, attn.in_proj_weight, attn.in_proj_bias).reshape(b, m // 2, 2, 3, heads, d)
    q, k, v = qkv.unbind(3)  # (b, n, 2 tokens, h, d)
    # a softmax over two keys is the sigmoid of their score difference: the future's share of its own value
    own = torch.sigmoid((q[:, :, 1] * (k[:, :, 1] - k[:, :, 0])).sum(-1, keepdim=True) * d ** -0.5)
    future = torch.lerp(v[:, :, 0], v[:, :, 1], own)
    return attn.out_proj(torch.stack([v[:, :, 0], future], dim=2).reshape(b, m, w))


@dataclasses.dataclass(frozen=True)
class ContextKeys:
    """A context's keys and values under one attention's projections (b, h, l, d), and which it may attend
    (b, 1, 1, l) bool, True = a real token."""

    keys: torch.Tensor
    values: torch.Tensor
    attend: torch.Tensor


def context_keys(attn: nn.MultiheadAttention, context: torch.Tensor, pad: torch.Tensor) -> ContextKeys:
    """`attn`'s keys and values of (b, l, w) `context` with (b, l) `pad` (True = padding), for `cross_attention`."""
    b, length, w = context.shape
    heads = attn.num_heads
    kv = nn.functional.linear(context, attn.in_proj_weight[w:], attn.in_proj_bias[w:])
    k, v = kv.reshape(b, length, 2, heads, w // heads).permute(2, 0, 3, 1, 4)
    return ContextKeys(k, v, ~pad[:, None, None, :])


def cross_attention(attn: nn.MultiheadAttention, x: torch.Tensor, context: ContextKeys) -> torch.Tensor:
    """`attn`(x, context, context) for (b, m, w) queries against keys projected once (`context_keys`): what
    `attn`'s forward gives, without projecting the same context again at every step."""
    b, m, w = x.shape
    heads = attn.num_heads
    q = nn.functional.linear(x, attn.in_proj_weight[:w], attn.in_proj_bias[:w])
    q = q.reshape(b, m, heads, w // heads).transpose(1, 2)
    out = nn.functional.scaled_dot_product_attention(q, context.keys, context.values, attn_mask=context.attend)
    return attn.out_proj(out.transpose(1, 2).reshape(b, m, w))


def self_attention(attn: nn.MultiheadAttention, x: torch.Tensor) -> torch.Tensor:
    """`attn`(x, x, x) for (b, m, w) tokens that all see each other: what its forward gives, through one
    projection and scaled_dot_product_attention, without the general forward's checks of masks and layouts
    (a third of a small block's attention time on one core)."""
    b, m, w = x.shape
    heads = attn.num_heads
    qkv = nn.functional.linear(x, attn.in_proj_weight, attn.in_proj_bias)
    q, k, v = qkv.reshape(b, m, 3, heads, w // heads).permute(2, 0, 3, 1, 4)
    out = nn.functional.scaled_dot_product_attention(q, k, v)
    return attn.out_proj(out.transpose(1, 2).reshape(b, m, w))
