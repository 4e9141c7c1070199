"""Connectors read sources. Importing this package registers every built-in connector type."""

from connectors import files, jsonl  # noqa: F401

__all__ = ["files", "jsonl"]
