"""reStructuredText: section titles marked by underlines, or by an overline and an underline."""

from __future__ import annotations

import re

from orgkb.connectors.base import Section
from orgkb.connectors.formats.headings import HeadingTrail
from orgkb.connectors.formats.model import ParsedFile
from orgkb.connectors.formats.text import section_from_lines, split_lines

MIME_TYPE = "text/x-rst"

# Any printable non-alphanumeric ASCII character, repeated; docutils accepts all of them.
_ADORNMENT = re.compile(r"^([!-/:-@\[-`{-~])\1+[ \t]*$")
# docutils treats a too-short underline as plain text only when it is shorter than this.
_MIN_SHORT_UNDERLINE = 4


def parse(text: str, name: str) -> ParsedFile:
    """Parse reStructuredText into sections under their titles.

    Like docutils, each adornment style (character, with or without overline) gets the next
    level the first time it appears. The title is the document's first title when it is the
    only one at the top level (docutils promotes exactly that one to the document title).
    """
    lines = split_lines(text)
    styles: list[tuple[str, bool]] = []
    trail = HeadingTrail()
    sections: list[Section] = []
    titles: list[tuple[int, str]] = []
    body: list[str] = []
    body_first = 1
    index = 0
    while index < len(lines):
        found = _title_at(lines, index)
        if found is None:
            body.append(lines[index])
            index += 1
            continue
        title, style, consumed = found
        section = section_from_lines(body, body_first, trail.path)
        if section is not None:
            sections.append(section)
        if style not in styles:
            styles.append(style)
        level = styles.index(style) + 1
        trail.enter(level, title)
        titles.append((level, title))
        index += consumed
        body, body_first = [], index + 1
    section = section_from_lines(body, body_first, trail.path)
    if section is not None:
        sections.append(section)

    top_level = [title for level, title in titles if level == 1]
    document_title = top_level[0] if len(top_level) == 1 and titles[0][0] == 1 else None
    return ParsedFile(title=document_title, sections=sections, mime_type=MIME_TYPE)


def _title_at(lines: list[str], index: int) -> tuple[str, tuple[str, bool], int] | None:
    """The section title starting at ``lines[index]``: (text, style, lines used), or None."""
    if index > 0 and lines[index - 1].strip() and not _ADORNMENT.match(lines[index - 1]):
        return None  # a title starts after a blank line; otherwise this is inside a paragraph
    line = lines[index]
    over = _ADORNMENT.match(line)
    if over and index + 2 < len(lines):
        text, under = lines[index + 1], _ADORNMENT.match(lines[index + 2])
        if (
            text.strip()
            and not _ADORNMENT.match(text)
            and under
            and under.group(1) == over.group(1)
            and len(lines[index + 2].rstrip()) == len(line.rstrip())
        ):
            return text.strip(), (over.group(1), True), 3
    if over or not line.strip() or line[0] in " \t" or index + 1 >= len(lines):
        return None
    under = _ADORNMENT.match(lines[index + 1])
    if under is None:
        return None
    width = len(lines[index + 1].rstrip())
    if width < len(line.rstrip()) and width < _MIN_SHORT_UNDERLINE:
        return None
    return line.strip(), (under.group(1), False), 2
