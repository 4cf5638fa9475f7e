"""Reusing a trained model: load it, inspect and freeze its layers, move its
weights into another model, extract features, replace its head, fuse models,
and save it atomically with its metadata."""

from tfxfer.transfer.features import feature_extractor
from tfxfer.transfer.freezing import freeze, unfreeze
from tfxfer.transfer.fusion import average_weights, greedy_soup, interpolate_weights
from tfxfer.transfer.heads import replace_head
from tfxfer.transfer.loading import load_pretrained
from tfxfer.transfer.lora import add_lora
from tfxfer.transfer.saved_model_info import (
    SavedModelDescription,
    describe_saved_model,
)
from tfxfer.transfer.saving import (
    check_save_path,
    read_pretrained_metadata,
    save_pretrained,
)
from tfxfer.transfer.summary import TrainableSummary, trainable_summary
from tfxfer.transfer.weights import TransferReport, transfer_weights

__all__ = [
    "SavedModelDescription",
    "TrainableSummary",
    "TransferReport",
    "add_lora",
    "average_weights",
    "check_save_path",
    "describe_saved_model",
    "feature_extractor",
    "freeze",
    "greedy_soup",
    "interpolate_weights",
    "load_pretrained",
    "read_pretrained_metadata",
    "replace_head",
    "save_pretrained",
    "trainable_summary",
    "transfer_weights",
    "unfreeze",
]
