"""A byte-level tokenizer for the tiny backbone (no vocabulary file to download): UTF-8 bytes 0-255
plus pad, bos, eos and the image placeholder. Real checkpoints use their own processor instead."""

from __future__ import annotations

import torch

PAD, BOS, EOS, IMAGE = 256, 257, 258, 259
VOCAB_SIZE = 260


def encode(texts: list[str], max_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids (b, l) and attention mask (b, l) of "Task: {text}\\n", truncated to `max_tokens`."""
    rows = [[BOS, *f"Task: {t}\n".encode()[: max_tokens - 2], EOS] for t in texts]
    length = max(len(r) for r in rows)
    ids = torch.full((len(rows), length), PAD, dtype=torch.long)
    mask = torch.zeros((len(rows), length), dtype=torch.bool)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = True
    return ids, mask
