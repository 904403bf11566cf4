"""The vision-language backbone: an Idefics3/SmolVLM model from transformers.

It is built from a tiny config (CPU, seconds) with a word tokenizer (tokenizer.py), or — when `pretrained` names a local
folder — loaded from a real SmolVLM/Idefics3 checkpoint (safetensors only) with that checkpoint's own
processor (tokenizer + image processor). The backbone turns an image and an instruction into the prefix the
trace expert attends to: `embed_prefix` → hidden states (b, l, d) and their mask (b, l), and on request the
vision tower's patch grid (b, d_v, g, g) that keypoint features are sampled from. With `depth_image` a
second image (the coloured depth) follows the RGB one; a sample whose depth is hidden has its depth image
tokens masked out, so nothing after them reads them.
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
        self.processor = None
        if cfg.pretrained:
            self._load(cfg)
            return
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
        if cfg.conv_stem:
            self.model.vision_model.embeddings.patch_embedding = conv_stem(cfg.patch_size, cfg.vision_hidden)
        self.num_image_tokens = (cfg.image_size // cfg.patch_size) ** 2 // SCALE_FACTOR ** 2
        self.images_per_sample = 2 if cfg.depth_image else 1
        self.hidden_size = cfg.text_hidden
        self.patch_width = cfg.vision_hidden
        if cfg.freeze:
            self.requires_grad_(False)

    def _load(self, cfg: BackboneConfig) -> None:
        from pathlib import Path

        from transformers import AutoProcessor, Idefics3Model
        from transformers.utils import CONFIG_NAME

        folder = Path(cfg.pretrained)
        if not (folder / CONFIG_NAME).exists() or not list(folder.glob("*.safetensors")):
            raise FileNotFoundError(f"{folder}: backbone.pretrained needs a local checkpoint folder with config.json "
                                    "and *.safetensors weights (pickled weights are not loaded)")
        self.model = Idefics3Model.from_pretrained(folder, use_safetensors=True)
        self.processor = AutoProcessor.from_pretrained(folder)
        self.hidden_size = self.model.config.text_config.hidden_size
        self.patch_width = self.model.config.vision_config.hidden_size
        self.num_image_tokens = -1  # the processor decides
        self.images_per_sample = 2 if cfg.depth_image else 1
        if cfg.freeze:
            self.requires_grad_(False)

    def _processed(self, images: list[torch.Tensor], instructions: list[str]) -> dict:
        """The checkpoint's own processor: "<image>[<image>]Task: …" prompts and its image preprocessing."""
        token = self.processor.image_token * len(images)
        frames = [[img.permute(1, 2, 0).cpu().numpy() for img in sample] for sample in zip(*images, strict=True)]
        inputs = self.processor(text=[f"{token}Task: {t}\n" for t in instructions], images=frames,
                                return_tensors="pt", padding=True, do_image_splitting=self.cfg.image_splitting)
        return {k: v.to(images[0].device) for k, v in inputs.items()}

    def preprocess(self, images: list[torch.Tensor]) -> torch.Tensor:
        """Per image slot (b,3,h,w) uint8 RGB → (b,slots,3,s,s) float in [-1, 1] at the vision tower's size."""
        x = torch.stack([img.float() / 255.0 for img in images], dim=1).flatten(0, 1)
        x = F.interpolate(x, size=(self.cfg.image_size, self.cfg.image_size), mode="bilinear", antialias=True,
                          align_corners=False)
        return ((x - 0.5) / 0.5).unflatten(0, (len(images[0]), len(images)))

    def prefix_tokens(self, instructions: list[str], device) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids and mask (b,l) of [image placeholders of every image slot, "Task: ...\n"]."""
        ids, mask = tokenizer.encode(instructions, self.cfg.max_text_tokens)
        image_ids = torch.full((len(instructions), self.num_image_tokens * self.images_per_sample), tokenizer.IMAGE,
                               dtype=torch.long)
        ids = torch.cat([image_ids, ids], dim=1).to(device)
        mask = torch.cat([torch.ones_like(image_ids, dtype=torch.bool), mask], dim=1).to(device)
        return ids, mask

    def embed_prefix(self, images: torch.Tensor, instructions: list[str], use_cache: bool = False,
                     patches: bool = False, depth_images: torch.Tensor | None = None,
                     depth_shown: torch.Tensor | None = None) -> tuple:
        """Prefix hidden states (b,l,d) for [image tokens, "Task: ...\n"] and its mask (b,l); with
        `use_cache` also the key-value cache a decoder continues from; with `patches` also the vision
        tower's last patch states of the RGB image as a grid (b,d_v,g,g), last. With `depth_image`,
        `depth_images` (b,3,h,w) uint8 fill the second slot and `depth_shown` (b,) says whose are read
        (none without them)."""
        slots = [images]
        if self.cfg.depth_image:
            shown = torch.zeros(len(images), dtype=torch.bool, device=images.device) if depth_images is None \
                else depth_shown.to(images.device).bool()
            slots.append(torch.zeros_like(images) if depth_images is None else depth_images)
        if self.processor is not None:
            inputs = self._processed(slots, instructions)
            mask = inputs["attention_mask"].bool()
            image_token = self.processor.tokenizer.convert_tokens_to_ids(self.processor.image_token)
        else:
            ids, mask = self.prefix_tokens(instructions, images.device)
            inputs = {"input_ids": ids, "pixel_values": self.preprocess(slots), "attention_mask": mask.long()}
            image_token = tokenizer.IMAGE
        if self.cfg.depth_image:
            mask = mask & ~(_second_half(inputs["input_ids"] == image_token) & ~shown[:, None])
            inputs["attention_mask"] = mask.long()
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.cfg.freeze):
            out = self.model(**inputs, use_cache=use_cache)
        result = (out.last_hidden_state, mask) + ((out.cache,) if use_cache else ())
        if not patches:
            return result
        return result + (_patch_grid(out.image_outputs.last_hidden_state, len(images), len(slots)),)


def conv_stem(patch_size: int, width: int) -> torch.nn.Sequential:
    """3×3 stride-2 convolutions from RGB (b,3,s,s) to the patch grid (b,width,s/patch,s/patch), a drop-in for
    the vision tower's patch-size-stride convolution."""
    layers, channels = [], 3
    for i in range(patch_size.bit_length() - 1):
        out = width if 2 ** (i + 1) == patch_size else max(16, width // 2)
        layers += [torch.nn.Conv2d(channels, out, 3, stride=2, padding=1), torch.nn.GELU()]
        channels = out
    return torch.nn.Sequential(*layers[:-1])  # the last convolution feeds the tower's position embedding as is


def _second_half(is_image: torch.Tensor) -> torch.Tensor:
    """(b,l) bool: the image-token positions of the second image slot (the later half of each row's)."""
    rank = is_image.long().cumsum(dim=1)
    return is_image & (rank > is_image.sum(dim=1, keepdim=True) // 2)


def _patch_grid(states: torch.Tensor, batch: int, slots: int) -> torch.Tensor:
    """The vision tower's patch states (b·slots, g·g, d_v), square images, as the RGB slot's grid (b, d_v, g, g)."""
    g = round(states.shape[1] ** 0.5)
    if states.shape[0] != batch * slots or g * g != states.shape[1]:
        raise ValueError(f"keypoint features need one square image per slot; the vision tower returned "
                         f"{tuple(states.shape[:2])} patch states for {batch} samples (turn image_splitting off)")
    rgb = states.unflatten(0, (batch, slots))[:, 0]
    return rgb.transpose(1, 2).reshape(batch, states.shape[2], g, g)
