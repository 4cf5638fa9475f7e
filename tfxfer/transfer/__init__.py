"""Reusing a trained model: load it, inspect and freeze its layers, move its
weights into another model, extract features, and fuse models."""

from tfxfer.transfer.fusion import average_weights, greedy_soup, interpolate_weights
from tfxfer.transfer.lora import add_lora

__all__ = ["add_lora", "average_weights", "greedy_soup", "interpolate_weights"]
