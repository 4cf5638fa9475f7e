"""Training a (transferred) model: a compiled GradientTape loop, staged
fine-tuning, learning-rate search and distillation."""

from tfxfer.training.distillation import distill
from tfxfer.training.loop import TrainState, train

__all__ = ["TrainState", "distill", "train"]
