"""A word-level tokenizer for the tiny backbone (no vocabulary file to download): each lower-cased word or
punctuation mark is hashed (CRC-32) into one of `WORD_BUCKETS` ids, plus pad, bos, eos and the image
placeholder. A token per word, as a real checkpoint's BPE vocabulary mostly gives, so a tiny model trained
from scratch reads "left" or "drawer" from one embedding; UTF-8 bytes made it compose every word first and
it learned to ignore the text (README, μ_0). Real checkpoints use their own processor instead."""

from __future__ import annotations

import re
import zlib

import torch

WORD_BUCKETS = 4096
PAD, BOS, EOS, IMAGE = WORD_BUCKETS, WORD_BUCKETS + 1, WORD_BUCKETS + 2, WORD_BUCKETS + 3
VOCAB_SIZE = WORD_BUCKETS + 4
_WORD = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")


def words(text: str) -> list[str]:
    """Lower-cased words and single punctuation marks, in order."""
    return _WORD.findall(text.lower())


def word_id(word: str) -> int:
    return zlib.crc32(word.encode()) % WORD_BUCKETS


def encode(texts: list[str], max_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids (b, l) and attention mask (b, l) of "Task: {text}", truncated to `max_tokens`."""
    rows = [[BOS, *(word_id(w) for w in words(f"Task: {t}"))][: max_tokens - 1] + [EOS] for t in texts]
    length = max(len(r) for r in rows)
    ids = torch.full((len(rows), length), PAD, dtype=torch.long)
    mask = torch.zeros((len(rows), length), dtype=torch.bool)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = True
    return ids, mask
