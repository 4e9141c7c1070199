"""Markdown: YAML front matter, ATX (``#``) and setext headings, fenced code left alone."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from orgkb.connectors.base import DocumentError, MetadataValue, Section
from orgkb.connectors.formats.headings import MAX_HEADING_CHARS, HeadingTrail
from orgkb.connectors.formats.model import ParsedFile
from orgkb.connectors.formats.text import section_from_lines, split_lines

MIME_TYPE = "text/markdown"

# CommonMark: up to three spaces of indent; four or more make an indented code block.
# Every pattern here runs in linear time on any line: no two adjacent quantifiers can share
# characters (trailing blanks and closing #s are stripped in code, not by the pattern).
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t](.*))?$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FRONT_MATTER_OPEN = re.compile(r"^---[ \t]*$")
_FRONT_MATTER_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*$")
# Lines that start some other block, so a setext underline below them is not one.
_NOT_PARAGRAPH = re.compile(r"^(?: {4}|\t| {0,3}(?:[>#|]|[-*+][ \t]|\d{1,9}[.)][ \t]|<!--|```|~~~))")
_LINK = re.compile(r"!?\[([^\[\]]*)\]\([^()]*\)")
_EMPHASIS = re.compile(r"\*\*([^*]+)\*\*|__([^_]+)__|`([^`]+)`")
# More aliases than this in front matter is an alias bomb (one anchor repeated thousands of times).
MAX_FRONT_MATTER_ALIASES = 100


def parse(text: str, name: str) -> ParsedFile:
    """Parse Markdown text into sections under their heading paths.

    Front matter keys become metadata (scalars; lists joined with ", "); the title is the
    front matter ``title``, else the first level-1 heading.
    """
    lines = split_lines(text)
    front_matter, body_start = _front_matter(lines)
    metadata = _scalar_metadata(front_matter)
    title = metadata.pop("title", None)

    sections: list[Section] = []
    trail = HeadingTrail()
    first_h1: str | None = None
    body: list[str] = []
    body_first = body_start + 1  # 1-based source line of body[0]
    fence: tuple[str, int] | None = None  # (fence char, fence length) while inside one

    def close_section(next_first: int) -> None:
        nonlocal body, body_first
        section = section_from_lines(body, body_first, trail.path)
        if section is not None:
            sections.append(section)
        body, body_first = [], next_first

    for index in range(body_start, len(lines)):
        line = lines[index]
        line_no = index + 1
        if fence is not None:
            body.append(line)
            closing = _FENCE.match(line)
            if (
                closing
                and closing.group(1)[0] == fence[0]
                and len(closing.group(1)) >= fence[1]
                and not closing.group(2).strip()
            ):
                fence = None
            continue
        opening = _FENCE.match(line)
        # A backtick fence's info string may not contain backticks (CommonMark), else it is inline code.
        if opening and not (opening.group(1)[0] == "`" and "`" in opening.group(2)):
            fence = (opening.group(1)[0], len(opening.group(1)))
            body.append(line)
            continue
        atx = _ATX.match(line)
        if atx:
            heading = _clean_heading(_without_closing_hashes(atx.group(2) or ""))
            close_section(line_no + 1)
            if heading:
                level = len(atx.group(1))
                trail.enter(level, heading)
                if level == 1 and first_h1 is None:
                    first_h1 = heading
            continue
        setext = _SETEXT.match(line)
        if setext and body and _is_paragraph_line(body[-1]):
            # The underline turns the whole paragraph above it into the heading (CommonMark).
            paragraph: list[str] = []
            while body and _is_paragraph_line(body[-1]):
                paragraph.append(body.pop())
            heading = _clean_heading(" ".join(part.strip() for part in reversed(paragraph)))
            close_section(line_no + 1)
            level = 1 if setext.group(1)[0] == "=" else 2
            trail.enter(level, heading)
            if level == 1 and first_h1 is None:
                first_h1 = heading
            continue
        body.append(line)
    close_section(len(lines) + 1)

    return ParsedFile(
        title=str(title) if title is not None else first_h1,
        sections=sections,
        mime_type=MIME_TYPE,
        metadata=metadata,
    )


def _front_matter(lines: list[str]) -> tuple[dict[str, Any], int]:
    """The front matter mapping and the index of the first body line.

    A ``---`` block that is not valid YAML, or not a mapping, is not front matter: it is
    left in the body (it may be a thematic break) rather than failing the whole file.
    """
    if not lines or not _FRONT_MATTER_OPEN.match(lines[0]):
        return {}, 0
    for index in range(1, len(lines)):
        if _FRONT_MATTER_CLOSE.match(lines[index]):
            import yaml  # only Markdown with front matter needs it

            block = "\n".join(lines[1:index])
            try:
                _refuse_alias_bombs(block)
                loaded = yaml.safe_load(block)
            except yaml.YAMLError:
                return {}, 0
            if isinstance(loaded, dict):
                return loaded, index + 1
            return {}, 0
    return {}, 0


def _refuse_alias_bombs(block: str) -> None:
    """Raise `DocumentError` for front matter that repeats anchors more than a person would.

    PyYAML shares an aliased value, but turning metadata into text copies it at every use:
    a few kilobytes of ``*anchor`` could become megabytes in every chunk.
    """
    import yaml

    aliases = 0
    for event in yaml.parse(block, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_FRONT_MATTER_ALIASES:
                raise DocumentError(
                    f"YAML front matter uses more than {MAX_FRONT_MATTER_ALIASES} aliases (*name): refused as an alias bomb"
                )


def _without_closing_hashes(content: str) -> str:
    """An ATX heading's text without trailing blanks and its optional closing ``#`` sequence."""
    content = content.rstrip(" \t")
    bare = content.rstrip("#")
    if bare != content and (not bare or bare[-1] in " \t"):
        return bare.rstrip(" \t")
    return content


def _scalar_metadata(mapping: dict[str, Any]) -> dict[str, MetadataValue]:
    """Keep what a vector store can filter on: scalars, dates as ISO text, lists joined."""
    out: dict[str, MetadataValue] = {}
    for key, value in mapping.items():
        converted = _scalar(value)
        if converted is None and isinstance(value, list):
            items = [_scalar(item) for item in value]
            converted = ", ".join(str(item) for item in items if item is not None) or None
        if converted is not None:
            out[str(key)] = converted
    return out


def _scalar(value: Any) -> MetadataValue | None:
    """``value`` as a metadata scalar, or None if it is not one (nested maps, nulls)."""
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return None


def _is_paragraph_line(line: str) -> bool:
    """Whether ``line`` can be part of a paragraph that a setext underline turns into a heading."""
    return bool(line.strip()) and not _NOT_PARAGRAPH.match(line) and not _SETEXT.match(line)


def _clean_heading(heading: str) -> str:
    """Heading text without link targets and emphasis markers, which only add noise to paths."""
    heading = heading[: 4 * MAX_HEADING_CHARS]  # the trail keeps MAX_HEADING_CHARS; no need to clean more
    heading = _LINK.sub(r"\1", heading)
    heading = _EMPHASIS.sub(lambda match: next(group for group in match.groups() if group is not None), heading)
    return heading.strip()
