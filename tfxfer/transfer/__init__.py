"""Reusing a trained model: load it, inspect and freeze its layers, move its
weights into another model, extract features, and fuse models."""

from tfxfer.transfer.features import feature_extractor
from tfxfer.transfer.freezing import freeze, unfreeze
from tfxfer.transfer.fusion import average_weights, greedy_soup, interpolate_weights
from tfxfer.transfer.loading import load_pretrained
from tfxfer.transfer.lora import add_lora
from tfxfer.transfer.summary import TrainableSummary, trainable_summary
from tfxfer.transfer.weights import TransferReport, transfer_weights

__all__ = [
    "TrainableSummary",
    "TransferReport",
    "add_lora",
    "average_weights",
    "feature_extractor",
    "freeze",
    "greedy_soup",
    "interpolate_weights",
    "load_pretrained",
    "trainable_summary",
    "transfer_weights",
    "unfreeze",
]
