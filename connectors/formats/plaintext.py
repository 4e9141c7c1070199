"""Plain text: the structure a person sees, as sections, with every line kept where it was.

A text file has no markup, but it usually has shape. Each blank-line-separated block becomes
a section, and the headings a reader would recognise become heading paths:

- an ALL-CAPS line, or a numbered heading (``2.``, ``2.1 Scope``: short, no closing full
  stop), heads what follows it, nested by numbering depth;
- a block whose first line is a question (ends in ``?``) or stands unindented over indented
  lines (an FAQ or Q&A entry) is headed by that line.

So an FAQ is one section per question, and a search for one answer finds that answer rather
than the whole file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from orgkb.connectors.base import Section
from orgkb.connectors.formats.headings import HeadingTrail
from orgkb.connectors.formats.model import ParsedFile
from orgkb.connectors.formats.text import section_from_lines, split_lines

MIME_TYPE = "text/plain"

MAX_HEADING_CHARS = 100
MAX_QUESTION_CHARS = 160
_NUMBERED = re.compile(r"^(\d+(?:\.\d+)*)[.)]?\s+\S")
_LETTERS = re.compile(r"[^\W\d_]")


def parse(text: str, name: str) -> ParsedFile:
    """Sections by blank-line blocks, headed by the caps, numbered and question lines they start with."""
    trail = HeadingTrail()
    sections: list[Section] = []
    for first_line, block in blocks(split_lines(text)):
        head = block[0].strip()
        level = heading_level(head)
        body: Sequence[str] = block
        body_first = first_line
        path = trail.path
        if level is not None:
            trail.enter(level, head)
            path = trail.path
            body, body_first = block[1:], first_line + 1
        elif len(block) > 1 and is_entry_title(block):
            path = [*trail.path, head]
            body, body_first = block[1:], first_line + 1
        section = section_from_lines(body, body_first, path)
        if section is not None:
            sections.append(section)
    return ParsedFile(sections=sections, mime_type=MIME_TYPE)


def blocks(lines: Sequence[str]) -> list[tuple[int, list[str]]]:
    """``(first source line, lines)`` of each run of non-blank lines."""
    out: list[tuple[int, list[str]]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if out and out[-1][0] + len(out[-1][1]) == number:
            out[-1][1].append(line)
        else:
            out.append((number, [line]))
    return out


def heading_level(line: str) -> int | None:
    """1 for an ALL-CAPS line, 1 + depth for a numbered heading, None for anything else."""
    if not line or len(line) > MAX_HEADING_CHARS:
        return None
    letters = _LETTERS.findall(line)
    if len(letters) >= 3 and not any(c.islower() for c in letters) and any(c.isupper() for c in letters):
        return 1
    match = _NUMBERED.match(line)
    if match and not line.endswith((".", ",", ";", ":")) and line[match.end() - 1].isupper():
        return 1 + match.group(1).count(".") + 1
    return None


def is_entry_title(block: Sequence[str]) -> bool:
    """Whether a block's first line titles the rest: a question, or an unindented line over indented ones."""
    first = block[0]
    if len(first.strip()) > MAX_QUESTION_CHARS:
        return False
    if first.rstrip().endswith("?"):
        return True
    return not first[:1].isspace() and all(line[:1].isspace() for line in block[1:])
