"""Word (.docx): heading styles become heading paths; tables are rendered row by row."""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING

from orgkb.connectors.base import DocumentError, MetadataValue, Section
from orgkb.connectors.formats.headings import HeadingTrail
from orgkb.connectors.formats.model import ParsedFile
from orgkb.connectors.formats.text import collapse_spaces

if TYPE_CHECKING:
    from docx.table import Table
    from docx.text.paragraph import Paragraph

MIME_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

# Style names as Word writes them in English; the style id ("Heading1") survives localisation
# of the name in most templates, so both are checked.
_HEADING_STYLE = re.compile(r"^heading ?(\d)$", re.IGNORECASE)
_TITLE_LEVEL = 0  # the "Title" paragraph sits above Heading 1
_LIST_STYLE = re.compile(r"^list", re.IGNORECASE)


def parse(data: bytes, name: str) -> ParsedFile:
    """Parse a .docx body in order (paragraphs and tables interleaved).

    The title is the core properties' title, else the "Title"-style paragraph, else the first
    heading. A file that is not a valid .docx raises `DocumentError`.
    """
    # python-docx pulls in lxml; only pay for it when a Word file turns up.
    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:
        # Damage surfaces as BadZipFile, KeyError (missing part), lxml syntax errors, ValueError...
        raise DocumentError(f"corrupt DOCX: {exc or type(exc).__name__}") from exc

    trail = HeadingTrail()
    sections: list[Section] = []
    blocks: list[str] = []
    title_paragraph: str | None = None
    first_heading: str | None = None

    def close_section() -> None:
        if blocks:
            sections.append(Section(heading_path=trail.path, text="\n\n".join(blocks)))
            blocks.clear()

    for item in document.iter_inner_content():
        if isinstance(item, Table):
            text = _table_text(item)
            if text:
                blocks.append(text)
            continue
        text = collapse_spaces(item.text.replace("\n", " "))
        if not text:
            continue
        level = _heading_level(item)
        if level is None:
            blocks.append(f"- {text}" if _is_list(item) else text)
            continue
        close_section()
        trail.enter(level, text)
        if level == _TITLE_LEVEL and title_paragraph is None:
            title_paragraph = text
        elif first_heading is None:
            first_heading = text
    close_section()

    properties = document.core_properties
    title = (properties.title or "").strip() or title_paragraph or first_heading
    metadata: dict[str, MetadataValue] = {}
    for key, value in (
        ("author", properties.author),
        ("subject", properties.subject),
        ("keywords", properties.keywords),
        ("category", properties.category),
    ):
        if value and value.strip():
            metadata[key] = value.strip()
    return ParsedFile(title=title or None, sections=sections, mime_type=MIME_TYPE, metadata=metadata)


def _heading_level(paragraph: Paragraph) -> int | None:
    """0 for the Title style, N for "Heading N", None for body text."""
    style = paragraph.style
    if style is None:
        return None
    for label in (style.name or "", style.style_id or ""):
        if label.lower() == "title":
            return _TITLE_LEVEL
        match = _HEADING_STYLE.match(label)
        if match:
            return int(match.group(1))
    return None


def _is_list(paragraph: Paragraph) -> bool:
    """Whether the paragraph is a list item by style ("List Bullet", "List Number", ...)."""
    style = paragraph.style
    return style is not None and bool(_LIST_STYLE.match(style.name or ""))


def _table_text(table: Table) -> str:
    """Rows joined by newlines, cells by `` | ``; a merged cell is written once per row."""
    rows: list[str] = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            # Merged cells come back once per grid column they span, as the same XML element.
            # python-docx has no public identity for a cell, hence the private _tc.
            if cell._tc is previous:
                continue
            previous = cell._tc
            cells.append(collapse_spaces(cell.text.replace("\n", " ")))
        while cells and not cells[-1]:  # unfilled form fields would leave a dangling " | "
            cells.pop()
        if cells:
            rows.append(" | ".join(cells))
    return "\n".join(rows)
