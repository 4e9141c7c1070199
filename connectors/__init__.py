"""Connectors read sources. Importing this package registers every built-in connector type."""

from connectors import confluence, files, markdown_wiki, smb  # noqa: F401

__all__ = ["confluence", "files", "markdown_wiki", "smb"]
