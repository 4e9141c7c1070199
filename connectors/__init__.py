"""Connectors read sources. Importing this package registers every built-in connector type."""

from connectors import files, sql  # noqa: F401

__all__ = ["files", "sql"]
