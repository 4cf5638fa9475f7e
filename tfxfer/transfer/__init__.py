"""Reusing a trained model: load it, inspect and freeze its layers, move its
weights into another model, extract features, and fuse models."""

__all__ = []
