"""Decoding bytes to text and cutting line-based text into sections.

The chunker derives a chunk's line range by counting newlines from ``Section.line_start``, so
every helper here keeps the source's line structure: the n-th line of a section's text is
source line ``line_start + n - 1``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from orgkb.connectors.base import DocumentError, Section
from orgkb.connectors.formats.model import SkipFile

# Enough to catch binaries (which nearly always have a NUL early) without reading huge files twice.
BINARY_SNIFF_BYTES = 8192

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# C0 controls other than tab, newline, vertical tab, form feed and carriage return: common in
# binary data that happens to decode as cp1252 (every byte but five does), rare in real text.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f]")
_MAX_CONTROL_RATIO = 0.01
_SPACES = re.compile(r"[^\S\n]+")


def decode_text(data: bytes) -> str:
    """Decode a text file's bytes and normalise its line endings to ``\\n``.

    UTF-8 (with or without a BOM) first, UTF-16 only when a BOM says so, then Windows-1252,
    the usual encoding of older office files. Raises `SkipFile` for binary data (a NUL byte
    early on, outside UTF-16) and `DocumentError` when no encoding fits.
    """
    if data.startswith(_UTF16_BOMS):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise DocumentError(f"cannot decode: invalid UTF-16 text ({exc.reason})") from exc
        return normalise_newlines(text)
    if b"\x00" in data[:BINARY_SNIFF_BYTES]:
        raise SkipFile("binary file")
    try:
        return normalise_newlines(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        pass
    if not data.startswith(_UTF8_BOM):
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            pass
        else:
            if len(_CONTROL_CHARS.findall(text)) < _MAX_CONTROL_RATIO * len(text):
                return normalise_newlines(text)
    raise DocumentError("cannot decode: not UTF-8, UTF-16 or Windows-1252 text")


def normalise_newlines(text: str) -> str:
    """Turn ``\\r\\n`` and lone ``\\r`` into ``\\n``, so lines can be counted by ``\\n`` alone."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def split_lines(text: str) -> list[str]:
    """Lines split on ``\\n`` only.

    ``str.splitlines`` also breaks on form feeds, ``\\x1c``-``\\x1e`` and U+2028, which editors
    do not count as lines; line numbers would drift from the ones a reader sees.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def collapse_spaces(text: str) -> str:
    """Collapse runs of whitespace within each line, drop blank-only lines' spaces, strip ends."""
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return "\n".join(lines).strip()


def section_from_lines(lines: Sequence[str], first_line: int, heading_path: Sequence[str] = ()) -> Section | None:
    """A section of ``lines`` (which start at source line ``first_line``), or None if blank.

    Leading and trailing blank lines are dropped and ``line_start`` moved past the leading
    ones; inner blank lines stay, since they separate paragraphs and keep line numbers true.
    """
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    if start == end:
        return None
    text = "\n".join(line.rstrip() for line in lines[start:end])
    return Section(heading_path=list(heading_path), text=text, line_start=first_line + start)


def sections_from_numbered_lines(
    rows: Sequence[tuple[int, str]], max_lines: int = 50, heading_path: Sequence[str] = ()
) -> list[Section]:
    """Group ``(source line, text line)`` pairs into sections of at most ``max_lines`` lines.

    A new section also starts wherever the source lines are not consecutive (a skipped blank
    line, a record spanning several lines), so ``line_start`` plus an offset stays exact.
    """
    sections: list[Section] = []
    current: list[str] = []
    start = expected = 0
    for line_no, line in rows:
        if current and (len(current) >= max_lines or line_no != expected):
            sections.append(Section(heading_path=list(heading_path), text="\n".join(current), line_start=start))
            current = []
        if not current:
            start = line_no
        current.append(line)
        expected = line_no + 1
    if current:
        sections.append(Section(heading_path=list(heading_path), text="\n".join(current), line_start=start))
    return sections
