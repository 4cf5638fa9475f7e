"""Training a (transferred) model: one compiled GradientTape engine (`Trainer`,
`train`), staged fine-tuning, learning-rate search and distillation."""

from tfxfer.training.distillation import distill
from tfxfer.training.fine_tune import FineTuneHistory, FineTuner, fine_tune
from tfxfer.training.history_plot import plot_history
from tfxfer.training.lazy_adam import LazyAdam
from tfxfer.training.lr_find import LRFinderResult, lr_find
from tfxfer.training.state import TrainState
from tfxfer.training.train import train
from tfxfer.training.trainer import Trainer

__all__ = [
    "FineTuneHistory",
    "FineTuner",
    "LRFinderResult",
    "LazyAdam",
    "TrainState",
    "Trainer",
    "distill",
    "fine_tune",
    "lr_find",
    "plot_history",
    "train",
]
