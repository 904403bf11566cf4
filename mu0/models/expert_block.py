"""The transformer block of μ_0's trace expert and of the action expert: self-attention, cross-attention to a
context, MLP; each residual branch scaled and shifted by a conditioning vector (the flow time) and gated, with
gates starting at zero (adaLN-Zero), so every block is the identity at initialisation.

A sampler knows all its Euler steps' times before the first: `step_modulations` projects every block's
modulation for all of them at once (one matrix product per block instead of one per block and step).
Shapes: b batch, m tokens, l context tokens, w width, s steps."""

from __future__ import annotations

import torch
from torch import nn

from mu0.models.attention import ContextKeys, context_keys, cross_attention, pair_attention, self_attention

# A block's modulation of its three branches, each (…, 1, w): shift, 1 + scale, gate of the self-attention, then
# of the cross-attention, then of the MLP.
Modulation = tuple[torch.Tensor, ...]


class ExpertBlock(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.norms = nn.ModuleList(nn.LayerNorm(width, elementwise_affine=False) for _ in range(3))
        self.self_attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))
        self.ada = nn.Linear(width, 9 * width)
        nn.init.zeros_(self.ada.weight)
        nn.init.zeros_(self.ada.bias)

    def modulation(self, cond: torch.Tensor) -> Modulation:
        """The block's modulation under conditioning `cond` (…, w): nine (…, 1, w) tensors."""
        mods = list(self.ada(nn.functional.silu(cond)).unsqueeze(-2).chunk(9, dim=-1))
        for i in (1, 4, 7):
            mods[i] = 1 + mods[i]
        return tuple(mods)

    def forward(self, x, cond, prefix, prefix_pad, self_mask, token_pad, pairs: bool = False,
                futures_only: bool = False):
        """`cond` is the (b,w) conditioning or its `modulation`. With `pairs`, x holds (history, future) token
        pairs, each seeing only its own pair (`pair_attention`); otherwise self-attention runs under `self_mask`
        and `token_pad`. `prefix` is the (b,l,w) context with its (b,l) padding `prefix_pad`, or its
        `context_keys` (then `prefix_pad` is not read). With `futures_only` (pairs only), the block returns the
        future tokens alone (b,m/2,w): after the self-attention no token reads another, so a last block
        spares the history tokens' cross-attention and MLP, whose outputs nobody reads."""
        m = cond if isinstance(cond, tuple) else self.modulation(cond)
        h = torch.addcmul(m[0], self.norms[0](x), m[1])
        if pairs:
            x = torch.addcmul(x, m[2], pair_attention(self.self_attn, h))
            if futures_only:
                x = x[:, 1::2]
        elif self_mask is None and token_pad is None:
            x = torch.addcmul(x, m[2], self_attention(self.self_attn, h))
        else:
            x = torch.addcmul(x, m[2], self.self_attn(h, h, h, attn_mask=self_mask, key_padding_mask=token_pad,
                                                      need_weights=False)[0])
        h = torch.addcmul(m[3], self.norms[1](x), m[4])
        if isinstance(prefix, ContextKeys):
            x = torch.addcmul(x, m[5], cross_attention(self.cross_attn, h, prefix))
        else:
            x = torch.addcmul(x, m[5], self.cross_attn(h, prefix, prefix, key_padding_mask=prefix_pad,
                                                       need_weights=False)[0])
        h = torch.addcmul(m[6], self.norms[2](x), m[7])
        return torch.addcmul(x, m[8], self.mlp(h))

    def context_keys(self, prefix: torch.Tensor, prefix_pad: torch.Tensor) -> ContextKeys:
        """The cross-attention's keys of a context that several calls share (a sampler's Euler steps)."""
        return context_keys(self.cross_attn, prefix, prefix_pad)


def step_modulations(blocks: nn.ModuleList, conds: torch.Tensor) -> list[list[Modulation]]:
    """Every block's modulation at each of s conditionings (s,b,w), one projection per block: [step][block]."""
    per_block = [block.modulation(conds) for block in blocks]  # each nine (s,b,1,w)
    return [[tuple(part[i] for part in mods) for mods in per_block] for i in range(len(conds))]


def partitioned(module: nn.Module) -> bool:
    """Whether DeepSpeed's ZeRO-3 has partitioned the module's parameters: each is then whole only inside the
    forward of the module that holds it, so work prepared outside those calls (a sampler's shared steps) must
    go through them step by step instead. ZeRO-3 partitions all of a model's parameters or none: the first
    tells (asked once per plan, so not a walk over hundreds of them)."""
    return hasattr(next(module.parameters(), None), "ds_id")
