"""The one place that names what a training run folder and a model folder hold. Imports nothing from mu0."""

from pathlib import Path

MODEL_DIR = "model"  # the finished model of a run: <run>/model/
CHECKPOINTS_DIR = "checkpoints"  # a training run's resumable checkpoints (pretrain and finetune): <run>/checkpoints/
SNAPSHOTS_DIR = "snapshots"  # fine-tuning's validated snapshots: <run>/snapshots/step<N>/

CONFIG_FILE = "config.json"  # the model's config dataclass plus "kind"
WEIGHTS_FILE = "model.safetensors"
MODEL_CARD_FILE = "README.md"  # the model card the Hub mixin writes beside the weights
STATS_FILE = "delta_stats.json"  # how normalised trace deltas map back to image units and metres
PROTOCOL_FILE = "protocol.json"  # what one step and one horizon of a trace meant in training
TRAIN_CONFIG_FILE = "train_config.json"  # how it was trained: data, split, optimiser, demos, readings
PICKLE_NAMES = ("pytorch_model.bin", "model.bin", "model.pt", "model.pth", "model.ckpt")  # refused, never loaded


def model_in(run: str | Path) -> Path:
    """The finished model folder of a training run's folder."""
    return Path(run) / MODEL_DIR
