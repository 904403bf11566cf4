"""The vision-language backbone: an Idefics3/SmolVLM model from transformers.

It is built from a tiny config (CPU, seconds); loading real SmolVLM weights from a local folder, with
their own processor, is still to come. The backbone turns an image and an instruction into the prefix the
trace expert attends to: `embed_prefix` → hidden states (b, l, d) and their mask (b, l).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mu0.config import BackboneConfig
from mu0.models import tokenizer

SCALE_FACTOR = 2  # the connector merges 2×2 patches into one image token


class VLMBackbone(torch.nn.Module):
    def __init__(self, cfg: BackboneConfig, extra_tokens: int = 0) -> None:
        super().__init__()
        from transformers import Idefics3Config, Idefics3Model

        self.cfg = cfg
        config = Idefics3Config(
            vision_config={"hidden_size": cfg.vision_hidden, "intermediate_size": 2 * cfg.vision_hidden,
                           "num_hidden_layers": cfg.vision_layers, "num_attention_heads": 4,
                           "image_size": cfg.image_size, "patch_size": cfg.patch_size},
            text_config={"hidden_size": cfg.text_hidden, "intermediate_size": 2 * cfg.text_hidden,
                         "num_hidden_layers": cfg.text_layers, "num_attention_heads": cfg.text_heads,
                         "num_key_value_heads": cfg.text_kv_heads, "vocab_size": tokenizer.VOCAB_SIZE + extra_tokens,
                         "max_position_embeddings": 512},
            image_token_id=tokenizer.IMAGE, scale_factor=SCALE_FACTOR)
        self.model = Idefics3Model(config)
        self.num_image_tokens = (cfg.image_size // cfg.patch_size) ** 2 // SCALE_FACTOR ** 2
        self.hidden_size = cfg.text_hidden
        if cfg.freeze:
            self.requires_grad_(False)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """(b,3,h,w) uint8 RGB → (b,1,3,s,s) float in [-1, 1] at the vision tower's size."""
        x = images.float() / 255.0
        x = F.interpolate(x, size=(self.cfg.image_size, self.cfg.image_size), mode="bilinear", antialias=True,
                          align_corners=False)
        return ((x - 0.5) / 0.5)[:, None]

    def prefix_tokens(self, instructions: list[str], device) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids and mask (b,l) of [image placeholders, "Task: ...\\n"]."""
        ids, mask = tokenizer.encode(instructions, self.cfg.max_text_tokens)
        image_ids = torch.full((len(instructions), self.num_image_tokens), tokenizer.IMAGE, dtype=torch.long)
        ids = torch.cat([image_ids, ids], dim=1).to(device)
        mask = torch.cat([torch.ones_like(image_ids, dtype=torch.bool), mask], dim=1).to(device)
        return ids, mask

    def embed_prefix(self, images: torch.Tensor, instructions: list[str], use_cache: bool = False):
        """Prefix hidden states (b,l,d) for [image tokens, "Task: ...\\n"] and its mask (b,l); with
        `use_cache` also the key-value cache a decoder continues from."""
        ids, mask = self.prefix_tokens(instructions, images.device)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.cfg.freeze):
            out = self.model(input_ids=ids, pixel_values=self.preprocess(images), attention_mask=mask.long(),
                             use_cache=use_cache)
        return (out.last_hidden_state, mask, out.cache) if use_cache else (out.last_hidden_state, mask)
