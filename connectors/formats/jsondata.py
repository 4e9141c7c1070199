"""JSON and JSON Lines: values flattened to ``a.b[0].c: value`` lines."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from orgkb.connectors.base import DocumentError, Section
from orgkb.connectors.formats.model import ParsedFile
from orgkb.connectors.formats.text import sections_from_numbered_lines, split_lines
from orgkb.connectors.limits import charge

MIME_TYPE = "application/json"
LINES_MIME_TYPE = "application/x-ndjson"
LINES_PER_SECTION = 50
_PLAIN_KEY = re.compile(r"^[\w$@-]+$")
_TITLE_KEYS = ("title", "name")


def parse(text: str, name: str) -> ParsedFile:
    """Flatten a JSON document into one line per scalar.

    A top-level object is split into one section per key holding an object or array (the key
    is its heading), with the scalar keys together in a section of their own; the title is a
    top-level ``title`` or ``name`` string. Flattened lines do not match source lines, so
    ``line_start`` is not set. Invalid JSON raises `DocumentError`.
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentError(f"invalid JSON: {exc}") from exc
    title: str | None = None
    sections: list[Section] = []
    if isinstance(value, dict):
        for key in _TITLE_KEYS:
            if isinstance(value.get(key), str) and value[key].strip():
                title = value[key].strip()
                break
        scalars = [
            line for key, item in value.items() if not _is_container(item) for line in _flatten(item, _key(key, ""))
        ]
        sections.extend(_chunked(scalars, []))
        for key, item in value.items():
            if _is_container(item):
                sections.extend(_chunked(list(_flatten(item, _key(key, ""))), [str(key)]))
    else:
        sections.extend(_chunked(list(_flatten(value, "")), []))
    return ParsedFile(title=title, sections=sections, mime_type=MIME_TYPE)


def parse_lines(text: str, name: str) -> ParsedFile:
    """JSON Lines: each record flattened onto its own line (``a: 1 | b.c: x``).

    Each line keeps its source line number, like CSV rows. A line that is not JSON raises
    `DocumentError` naming the line.
    """
    rows: list[tuple[int, str]] = []
    for number, line in enumerate(split_lines(text), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DocumentError(f"invalid JSON on line {number}: {exc}") from exc
        rendered = " | ".join(_flatten(value, ""))
        if rendered:
            rows.append((number, rendered))
    return ParsedFile(sections=sections_from_numbered_lines(rows, LINES_PER_SECTION), mime_type=LINES_MIME_TYPE)


def _flatten(value: Any, path: str) -> Iterator[str]:
    """``path: scalar`` for every scalar under ``value``; empty containers are shown as such.

    Each line repeats its whole path, so deep nesting multiplies a small file's size: every
    line is charged to the document's text budget as it is made.
    """
    for line in _lines(value, path):
        charge(len(line) + 1)
        yield line


def _lines(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, dict):
        if not value:
            yield f"{path}: {{}}" if path else "{}"
        for key, item in value.items():
            yield from _lines(item, _key(key, path))
    elif isinstance(value, list):
        if not value:
            yield f"{path}: []" if path else "[]"
        for index, item in enumerate(value):
            yield from _lines(item, f"{path}[{index}]")
    else:
        scalar = " ".join(value.split()) if isinstance(value, str) else json.dumps(value)
        yield f"{path}: {scalar}" if path else scalar


def _key(key: str, path: str) -> str:
    """Append ``key`` to a dotted path, quoting keys that would make the path ambiguous."""
    part = key if _PLAIN_KEY.match(key) else json.dumps(key, ensure_ascii=False)
    if not path:
        return part if _PLAIN_KEY.match(key) else f"[{part}]"
    return f"{path}.{part}" if _PLAIN_KEY.match(key) else f"{path}[{part}]"


def _is_container(value: Any) -> bool:
    return isinstance(value, dict | list) and bool(value)


def _chunked(lines: list[str], heading_path: list[str]) -> list[Section]:
    """Sections of at most ``LINES_PER_SECTION`` lines under one heading path."""
    lines = [line for line in lines if line.strip()]
    return [
        Section(heading_path=heading_path, text="\n".join(lines[start : start + LINES_PER_SECTION]))
        for start in range(0, len(lines), LINES_PER_SECTION)
    ]
