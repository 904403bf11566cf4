"""The shapes of μ_0 and of the learned baselines (saved as their config.json)."""

from __future__ import annotations

import dataclasses

from mu0.config.base import require


@dataclasses.dataclass(frozen=True)
class BackboneConfig:
    """The vision-language backbone: a SmolVLM/Idefics3-family model from transformers."""

    # Tiny text model: token width.
    text_hidden: int = 64
    # Tiny text model: transformer layers.
    text_layers: int = 2
    # Tiny text model: attention heads.
    text_heads: int = 4
    # Tiny text model: key-value heads (grouped-query attention).
    text_kv_heads: int = 2
    # Tiny vision tower: token width.
    vision_hidden: int = 64
    # Tiny vision tower: transformer layers.
    vision_layers: int = 2
    # Input image size in pixels (square).
    image_size: int = 64
    # Vision patch size in pixels.
    patch_size: int = 8
    # Tiny vision tower only: replace its one-layer patch embedding (a patch_size-stride convolution) by a stack
    # of 3×3 stride-2 convolutions reaching the same patch grid, so a tower trained from scratch sees local
    # structure before attention. Off: at tiny it left μ_0 where it was (val ADE 0.141 recipe, 0.085 dense,
    # README, μ_0), though a small CNN alone learns the scene faster than a ViT does here.
    conv_stem: bool = False
    # Keep the backbone's weights fixed (the recipe trains the expert only).
    freeze: bool = False
    # Most instruction tokens (the recipe: 48).
    max_text_tokens: int = 48
    # Local folder of a real SmolVLM/Idefics3 checkpoint (config, safetensors weights, processor files);
    # empty builds the tiny model from the fields above. Nothing is downloaded.
    pretrained: str = ""
    # With a real checkpoint: let its processor split large images into tiles (more image tokens).
    image_splitting: bool = False
    # Metric depth as a second image through the same vision tower (the recipe: turbo-coloured log depth);
    # μ_0 only.
    depth_image: bool = False
    # The depth image's log-depth range (ln metres, 1st–99th percentile): measured on the training split when
    # pretraining starts from (0, 0), and then kept in the model's config.
    depth_log_range: tuple[float, float] = (0.0, 0.0)
    # Training only: the chance that a sample's depth image is hidden (the recipe: 0.7), so the model also
    # forecasts without depth.
    depth_dropout: float = 0.7
    # Training only: Gaussian noise on depth before colouring, metres (the recipe: 0.01).
    depth_noise_m: float = 0.01

    def __post_init__(self) -> None:
        require(len(self.depth_log_range) == 2 and (tuple(self.depth_log_range) == (0.0, 0.0)
                                                     or self.depth_log_range[0] < self.depth_log_range[1]),
                "depth_log_range", "must be (0, 0) (measure it) or (low, high) with low < high")
        require(0.0 <= self.depth_dropout <= 1.0, "depth_dropout", "must be within [0, 1]")
        require(self.depth_noise_m >= 0.0, "depth_noise_m", "must be ≥ 0")
        require(self.image_size % self.patch_size == 0, "image_size", "must be a multiple of patch_size")
        require(not self.conv_stem or (self.patch_size >= 2 and self.patch_size & (self.patch_size - 1) == 0),
                "conv_stem", "needs a power-of-two patch_size (a stack of stride-2 convolutions)")
        require(not (self.conv_stem and self.pretrained), "conv_stem",
                "is for the tiny tower trained from scratch; a real checkpoint keeps its own patch embedding")
        require((self.image_size // self.patch_size) % 2 == 0, "patch_size",
                 "image_size / patch_size must be even (the connector merges 2×2 patches)")


@dataclasses.dataclass(frozen=True)
class TraceExpertConfig:
    """The trace expert: per keypoint a history and a future token, attending to the backbone prefix."""

    # Token width of the expert.
    width: int = 64
    # Expert blocks.
    layers: int = 4
    # Attention heads per block.
    heads: int = 4
    # Cubic B-spline control points over the horizon.
    num_ctrl: int = 10
    # Knot vector of the B-spline: "mu0" (the recipe's) or "uniform".
    knots: str = "mu0"
    # First-difference regulariser of the fitted target control points (the recipe: 0.2).
    reg_lambda: float = 0.2
    # Clip of the fitted target control points, normalised units (the recipe: 1.5, which clips a fifth of
    # the moving traces here; 3.0 about 1%).
    ctrl_clip: float = 3.0
    # Log-spaced frequencies of the Fourier embedding of the keypoint's (u, v).
    fourier_freqs: int = 8
    # Add to each keypoint's tokens the backbone's vision patch features sampled at its (u, v) (the recipe
    # does so with frozen, pretrained DINOv2 features). Off by default: with the tiny backbone trained from
    # scratch it cost 23% (dense) and 10% (recipe) ADE on val at 3000 steps (two seeds, README); meant for a
    # pretrained backbone.
    keypoint_features: bool = False
    # Add to every keypoint's tokens, and to every block's adaLN condition, a small CNN's encoding of the whole
    # image read at `scene_size` pixels (models/scene_encoder.py): the scene layout that the from-scratch tiny
    # backbone does not learn at this data scale. Measured with the two fields below (README, μ_0): on.
    scene_encoder: bool = True
    # Pixels the scene encoder reads the image at (a multiple of 16).
    scene_size: int = 64
    # Training only: each scene image moves by a random offset within ±scene_shift pixels (at scene_size),
    # against memorising exact pixels.
    scene_shift: int = 0
    # Also add to each keypoint's tokens the scene encoder's stride-4 feature map read at its (u, v): what the
    # image shows at the point (gripper, handle, table), from features that do learn at this scale. Measured
    # at tiny, val, two seeds (README, μ_0): recipe 0.0978 against 0.1086 without, dense level (0.0609 / 0.0601).
    scene_point_features: bool = True
    # Keypoints do not attend to one another: each keypoint's two tokens read themselves and the prefix only.
    # The recipe's keypoints attend to each other; here the set of a frame's query points is a fingerprint of
    # the training episode, and the expert memorised futures through it (val loss 0.27 against train 0.08);
    # isolated, val ADE fell 0.1226 → 0.1009 (recipe) and 0.084 → 0.060 (dense) at tiny (README, μ_0).
    isolate_keypoints: bool = True
    # Weight of the done-head BCE loss (the recipe: 0.5).
    done_weight: float = 0.5
    # Weight of the rigidity loss: keypoints of one moving entity keep their distances across control
    # points, measured on normalised control points as the recipe does (the recipe: 5; 0 turns it off).
    rigidity_weight: float = 0.0
    # Euler steps when sampling (the recipe evaluates with 4).
    inference_steps: int = 4
    # What the expert's head outputs at flow time t: "velocity" u = ε − P (the recipe's π_0 convention) or
    # "clean", the control points P themselves (x-prediction), the velocity then being (x_t − P̂)/t. Same
    # sampler; the loss is the clean points' squared error, i.e. the velocity loss weighted by t², so the
    # model spends its capacity near t = 1, where the forecast is made from the image and instruction, not
    # near t = 0 where x_t already holds the answer. Measured at tiny with the scene encoder and isolated
    # keypoints (README, μ_0): val ADE 0.1009 (recipe) / 0.060 (dense) with "clean", 0.136 / 0.074 with
    # "velocity"; a small CNN forecaster alone: 0.102 against 0.154.
    predicts: str = "clean"
    # What the predicted control points are added to: "none" (the recipe: anchor-relative deltas) or
    # "constant_velocity" (the extrapolated history, so the flow learns the correction; zero for keypoints
    # without history, which is the recipe's case). Needs history scaled like the future.
    prior: str = "constant_velocity"

    def __post_init__(self) -> None:
        require(self.width % self.heads == 0, "width", "must be divisible by heads")
        require(self.knots in ("mu0", "uniform"), "knots", "must be 'mu0' or 'uniform'")
        require(self.inference_steps >= 1, "inference_steps", "must be >= 1")
        require(self.prior in ("none", "constant_velocity"), "prior", "must be 'none' or 'constant_velocity'")
        require(self.predicts in ("velocity", "clean"), "predicts", "must be 'velocity' or 'clean'")
        require(self.scene_size >= 16 and self.scene_size % 16 == 0, "scene_size", "must be a multiple of 16")
        require(0 <= self.scene_shift < self.scene_size // 2, "scene_shift", "must be within [0, scene_size / 2)")


@dataclasses.dataclass(frozen=True)
class WorldModelConfig:
    """Everything that defines a μ_0 model's shape; saved as its config.json."""

    # The vision-language backbone.
    backbone: BackboneConfig = BackboneConfig()
    # The trace expert.
    expert: TraceExpertConfig = TraceExpertConfig()
    # Future steps the model predicts (match the trace data's).
    horizon: int = 32
    # History steps the model reads (match the trace data's).
    history: int = 8


@dataclasses.dataclass(frozen=True)
class TrackTransformerConfig:
    """The ATM-style baseline: image patches, instruction words and query points in one transformer that
    regresses every point's future directly (no VLM, no history, no sampling)."""

    # Token width.
    width: int = 64
    # Transformer layers.
    layers: int = 6
    # Attention heads.
    heads: int = 4
    # Input image size in pixels.
    image_size: int = 64
    # Patch size in pixels.
    patch_size: int = 8
    # Most instruction tokens.
    max_text_tokens: int = 48
    # Fourier frequencies of a query point's (u, v).
    fourier_freqs: int = 8
    # Future steps predicted (μ_0's).
    horizon: int = WorldModelConfig.horizon
    # History steps (μ_0's; unused: no history input).
    history: int = WorldModelConfig.history

    def __post_init__(self) -> None:
        require(self.width % self.heads == 0, "width", "must be divisible by heads")
        require(self.image_size % self.patch_size == 0, "image_size", "must be a multiple of patch_size")

    @classmethod
    def like(cls, world: WorldModelConfig) -> TrackTransformerConfig:
        """About μ_0's size: the expert's width, its layers plus the vision tower's, the same image input."""
        b, e = world.backbone, world.expert
        return cls(width=e.width, layers=e.layers + b.vision_layers, heads=e.heads, image_size=b.image_size,
                   patch_size=b.patch_size, max_text_tokens=b.max_text_tokens, fourier_freqs=e.fourier_freqs,
                   horizon=world.horizon, history=world.history)


@dataclasses.dataclass(frozen=True)
class TokenizedVLMConfig:
    """The tokenized-VLM baseline: μ_0's backbone writes each point's B-spline control points as
    discrete coordinate tokens through its LM head (no trace expert)."""

    # μ_0's backbone, which writes the tokens.
    backbone: BackboneConfig = BackboneConfig()
    # Bins per coordinate over [-ctrl_clip, ctrl_clip] (normalised control points) and [-1, 1] (query uv).
    bins: int = 256
    # Control points per trace (μ_0's).
    num_ctrl: int = TraceExpertConfig.num_ctrl
    # Knot vector (μ_0's).
    knots: str = TraceExpertConfig.knots
    # First-difference regulariser of the fitted targets (μ_0's).
    reg_lambda: float = TraceExpertConfig.reg_lambda
    # Clip of the target control points (μ_0's); also the range of the coordinate bins.
    ctrl_clip: float = TraceExpertConfig.ctrl_clip
    # Future steps predicted (μ_0's).
    horizon: int = WorldModelConfig.horizon
    # History steps (μ_0's; unused: no history input).
    history: int = WorldModelConfig.history

    def __post_init__(self) -> None:
        require(self.bins >= 2, "bins", "must be >= 2")
        require(not self.backbone.pretrained, "backbone.pretrained",
                "the tokenized-VLM baseline runs on the tiny word-tokenizer backbone only (coordinate tokens extend "
                "its vocabulary); a real checkpoint's tokenizer is not wired for it")
        require(not self.backbone.depth_image, "backbone.depth_image", "the depth image is μ_0's input only")

    @classmethod
    def like(cls, world: WorldModelConfig) -> TokenizedVLMConfig:
        e = world.expert  # the depth image is μ_0's input only: the baseline reads the RGB frame
        return cls(backbone=dataclasses.replace(world.backbone, depth_image=False), num_ctrl=e.num_ctrl,
                   knots=e.knots, reg_lambda=e.reg_lambda, ctrl_clip=e.ctrl_clip, horizon=world.horizon,
                   history=world.history)
