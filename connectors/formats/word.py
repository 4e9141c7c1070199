"""Word (.docx): heading styles become heading paths; tables are rendered row by row."""

from __future__ import annotations

import io
import re
import zipfile
from typing import TYPE_CHECKING, Any

from orgkb.connectors.base import DocumentError, MetadataValue, Section
from orgkb.connectors.formats.headings import HeadingTrail
from orgkb.connectors.formats.model import ParsedFile
from orgkb.connectors.formats.text import collapse_spaces
from orgkb.connectors.limits import LimitExceeded, charge, megabytes

if TYPE_CHECKING:
    from docx.table import Table
    from docx.text.paragraph import Paragraph

MIME_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

# Style names as Word writes them in English; the style id ("Heading1") survives localisation
# of the name in most templates, so both are checked.
_HEADING_STYLE = re.compile(r"^heading ?(\d)$", re.IGNORECASE)
_TITLE_LEVEL = 0  # the "Title" paragraph sits above Heading 1
_LIST_STYLE = re.compile(r"^list", re.IGNORECASE)
# Word documents of thousands of pages unzip to tens of MB; lxml needs several times that.
MAX_UNZIPPED_BYTES = 200 * 1024 * 1024
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_W_RUN, _W_HYPERLINK, _W_TEXT, _W_HYPHEN = f"{_W}r", f"{_W}hyperlink", f"{_W}t", f"{_W}noBreakHyphen"
_W_TABS = frozenset({f"{_W}tab", f"{_W}ptab"})
_W_BREAKS = frozenset({f"{_W}br", f"{_W}cr"})


def parse(data: bytes, name: str) -> ParsedFile:
    """Parse a .docx body in order (paragraphs and tables interleaved).

    The title is the core properties' title, else the "Title"-style paragraph, else the first
    heading. A file that is not a valid .docx raises `DocumentError`.
    """
    # python-docx pulls in lxml; only pay for it when a Word file turns up.
    import docx
    from docx.table import Table

    _refuse_zip_bombs(data)
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

    styles = _StyleKinds(document)
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            text = _table_text(item)
            charge(len(text))
            if text:
                blocks.append(text)
            continue
        text = collapse_spaces(_paragraph_text(item._p).replace("\n", " "))
        charge(len(text) + 2)
        if not text:
            continue
        level, is_list = styles.of(item)
        if level is None:
            blocks.append(f"- {text}" if is_list else text)
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


def _refuse_zip_bombs(data: bytes) -> None:
    """Raise `LimitExceeded` when the parts of a .docx unzip to far more than any real document.

    python-docx reads whole parts into memory and parses them with lxml, so a 2 MB file whose
    XML unzips to gigabytes would take all the memory there is. The sizes checked are the ones
    the zip declares, which `zipfile` also holds the decompression to.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unzipped = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise DocumentError(f"corrupt DOCX: {exc}") from exc
    if unzipped > MAX_UNZIPPED_BYTES:
        raise LimitExceeded(
            f"DOCX unzips to {megabytes(unzipped)}, over the {megabytes(MAX_UNZIPPED_BYTES)} a document may unzip to"
        )


def _paragraph_text(paragraph: Any) -> str:
    """The text of a ``w:p`` element, as python-docx's ``Paragraph.text`` reads it.

    Walked with plain lxml: python-docx evaluates XPath per paragraph and per run, which gets
    slower as the document grows (minutes for a file of many tiny paragraphs).
    """
    parts: list[str] = []
    for child in paragraph:
        if child.tag == _W_RUN:
            runs = [child]
        elif child.tag == _W_HYPERLINK:
            runs = [run for run in child if run.tag == _W_RUN]
        else:
            continue
        for run in runs:
            for element in run:
                tag = element.tag
                if tag == _W_TEXT:
                    parts.append(element.text or "")
                elif tag in _W_TABS:
                    parts.append("\t")
                elif tag in _W_BREAKS:
                    parts.append("\n")
                elif tag == _W_HYPHEN:
                    parts.append("-")
    return "".join(parts)


class _StyleKinds:
    """Heading level and list-ness by paragraph style id, looked up once per style.

    python-docx resolves ``paragraph.style`` with an XPath search of the styles part on every
    call, which made a file of many small paragraphs take minutes.
    """

    def __init__(self, document: Any) -> None:
        self._document = document
        self._kinds: dict[str | None, tuple[int | None, bool]] = {}

    def of(self, paragraph: Paragraph) -> tuple[int | None, bool]:
        style_id = paragraph._p.style  # the raw w:pStyle value; python-docx has no public accessor
        if style_id not in self._kinds:
            style = paragraph.style
            self._kinds[style_id] = (_heading_level(style), _is_list(style))
        return self._kinds[style_id]


def _heading_level(style: Any) -> int | None:
    """0 for the Title style, N for "Heading N", None for body text."""
    if style is None:
        return None
    for label in (style.name or "", style.style_id or ""):
        if label.lower() == "title":
            return _TITLE_LEVEL
        match = _HEADING_STYLE.match(label)
        if match:
            return int(match.group(1))
    return None


def _is_list(style: Any) -> bool:
    """Whether a paragraph style makes list items ("List Bullet", "List Number", ...)."""
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
