"""Training a (transferred) model: a compiled GradientTape loop, staged
fine-tuning, learning-rate search and distillation."""

__all__ = []
