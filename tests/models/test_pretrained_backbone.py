"""A real SmolVLM/Idefics3 checkpoint folder (here a tiny one written with its own tokenizer and image
processor, as a user's download would be laid out) loads as μ_0's backbone, nothing downloaded."""

import numpy as np
import pytest
import torch

from mu0.config import BackboneConfig, TraceExpertConfig, WorldModelConfig
from mu0.models.world_model import Mu0WorldModel
from tests.models.batches import random_batch


def _tiny_checkpoint(folder):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessor,
        Idefics3Processor,
        PreTrainedTokenizerFast,
    )

    specials = ["<pad>", "<unk>", "<|im_start|>", "<end_of_utterance>", "<fake_token_around_image>", "<image>",
                "<global-img>"] + [f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)]
    words = ["task", ":", "push", "the", "puck", "open", "drawer", "reach", "press", "slide", "box"]
    word_level = Tokenizer(models.WordLevel({t: i for i, t in enumerate(specials + words)}, unk_token="<unk>"))
    word_level.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=word_level, pad_token="<pad>", unk_token="<unk>",
                                  bos_token="<|im_start|>", eos_token="<end_of_utterance>")
    images = Idefics3ImageProcessor(do_image_splitting=False, max_image_size={"longest_edge": 64},
                                    size={"longest_edge": 64})
    processor = Idefics3Processor(image_processor=images, tokenizer=tok, image_seq_len=4)
    config = Idefics3Config(
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "image_size": 64, "patch_size": 16},
        text_config={"hidden_size": 48, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                     "num_key_value_heads": 1, "vocab_size": len(tok), "max_position_embeddings": 256},
        image_token_id=tok.convert_tokens_to_ids("<image>"), scale_factor=2)
    model = Idefics3ForConditionalGeneration(config)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return model


@pytest.mark.filterwarnings("ignore")
def test_a_local_checkpoint_and_its_processor_become_the_backbone(tmp_path):
    original = _tiny_checkpoint(tmp_path / "smolvlm")
    cfg = WorldModelConfig(backbone=BackboneConfig(pretrained=str(tmp_path / "smolvlm"), freeze=True),
                           expert=TraceExpertConfig(width=32, layers=1), horizon=16, history=4)
    model = Mu0WorldModel(cfg)
    assert model.backbone.hidden_size == 48
    torch.testing.assert_close(model.backbone.model.text_model.embed_tokens.weight,
                               original.model.text_model.embed_tokens.weight)
    batch = random_batch(image=40)  # any image size: the checkpoint's processor resizes
    loss, _ = model.compute_loss(batch)
    loss.backward()
    assert torch.isfinite(loss) and all(p.grad is None for p in model.backbone.parameters())
    prefix, mask = model.backbone.embed_prefix(batch["image"], list(batch["instruction"]))
    assert prefix.shape[-1] == 48 and mask.shape == prefix.shape[:2] and mask[:, :4].all()
    assert np.isfinite(model.eval().predict(batch, 1).numpy()).all()


def test_a_folder_without_safetensors_weights_is_refused(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(FileNotFoundError, match=r"config.json and \*.safetensors"):
        Mu0WorldModel(WorldModelConfig(backbone=BackboneConfig(pretrained=str(tmp_path))))


@pytest.mark.filterwarnings("ignore")
def test_a_checkpoint_reads_the_depth_image_as_its_second_image(tmp_path):
    _tiny_checkpoint(tmp_path / "smolvlm")
    backbone = BackboneConfig(pretrained=str(tmp_path / "smolvlm"), depth_image=True, depth_log_range=(-1.0, 1.5))
    model = Mu0WorldModel(WorldModelConfig(backbone=backbone, expert=TraceExpertConfig(width=32, layers=1),
                                           horizon=16, history=4)).eval()
    batch = random_batch(image=40)
    depth = torch.full((len(batch["image"]), 1, 40, 40), 1.0)
    shown = model.embed(batch["image"], list(batch["instruction"]), depth).mask
    hidden = model.embed(batch["image"], list(batch["instruction"])).mask
    image_token = model.backbone.processor.tokenizer.convert_tokens_to_ids("<image>")
    ids = model.backbone._processed([batch["image"]] * 2, list(batch["instruction"]))["input_ids"]
    is_image = ids == image_token
    assert (is_image.sum(1) == 8).all()  # image_seq_len 4 per image, two images
    assert shown[is_image].all() and hidden[is_image].sum() == 4 * len(ids)
    rank = is_image.long().cumsum(1)
    torch.testing.assert_close(hidden[is_image], (rank <= 4)[is_image])  # the first image's tokens stay read
