"""Parsers that turn a file's bytes into titled, sectioned text, keeping heading structure.

Shared by every connector that reads files (local folders, SMB shares, wiki attachments), so a
format is supported once for all of them.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from connectors.base import DocumentError, MetadataValue, Section


class SkipFile(Exception):
    """The file is deliberately not indexed (binary, unsupported type); the message says why."""


class ParsedFile(BaseModel):
    """A parsed file: its title if the format names one, its sections, mime type and metadata."""

    title: str | None = None
    sections: list[Section]
    mime_type: str
    metadata: dict[str, MetadataValue] = Field(default_factory=dict)


def parse_file(name: str, data: bytes) -> ParsedFile:
    """Parse ``data`` according to the suffix of ``name``.

    Raises `SkipFile` for binary or unsupported files and `DocumentError` for files that
    should be readable but are not (corrupt PDF, undecodable text).
    """
    raise NotImplementedError


def supported_suffixes() -> frozenset[str]:
    """Lower-case suffixes (with the dot) that `parse_file` understands."""
    raise NotImplementedError


__all__ = ["DocumentError", "ParsedFile", "SkipFile", "parse_file", "supported_suffixes"]
