"""Training a (transferred) model: a compiled GradientTape loop, staged
fine-tuning, learning-rate search and distillation."""

from tfxfer.training.distillation import distill
from tfxfer.training.fine_tune import FineTuneHistory, fine_tune
from tfxfer.training.loop import TrainState, train
from tfxfer.training.lr_find import LRFinderResult, lr_find

__all__ = [
    "FineTuneHistory",
    "LRFinderResult",
    "TrainState",
    "distill",
    "fine_tune",
    "lr_find",
    "train",
]
