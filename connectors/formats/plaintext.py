"""Plain text: one section, every line kept where it was."""

from __future__ import annotations

from orgkb.connectors.formats.model import ParsedFile
from orgkb.connectors.formats.text import section_from_lines, split_lines

MIME_TYPE = "text/plain"


def parse(text: str, name: str) -> ParsedFile:
    """The whole text as one section with no heading; an all-blank file has no sections."""
    section = section_from_lines(split_lines(text), 1)
    return ParsedFile(sections=[section] if section else [], mime_type=MIME_TYPE)
