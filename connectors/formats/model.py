"""The result type and the skip signal shared by every format parser.

Kept apart from the package's ``__init__`` so the parser modules can import them without an
import cycle (``__init__`` imports the parsers lazily, by suffix).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from orgkb.connectors.base import MetadataValue, Section


class SkipFile(Exception):
    """The file is deliberately not indexed (binary, unsupported type); the message says why."""


class ParsedFile(BaseModel):
    """A parsed file: its title if the format names one, its sections, mime type and metadata."""

    title: str | None = None
    sections: list[Section]
    mime_type: str
    metadata: dict[str, MetadataValue] = Field(default_factory=dict)
