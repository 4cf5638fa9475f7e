"""Shared helpers: argument checks (`validation`) and optimizer resolution
(`optimizers`). Nothing here is public API."""
