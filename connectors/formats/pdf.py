"""PDF: one section per page, under the outline (bookmark) entry that covers the page."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from orgkb.connectors.base import DocumentError, MetadataValue, Section
from orgkb.connectors.formats.model import ParsedFile
from orgkb.connectors.formats.text import collapse_spaces
from orgkb.connectors.limits import charge

if TYPE_CHECKING:
    from pypdf import PdfReader

MIME_TYPE = "application/pdf"
# Defaults that PDF producers write when the author gave none (reportlab, Word, Quartz...);
# as a title they would hide the file name, which says more.
_PLACEHOLDERS = frozenset({"untitled", "untitled document", "anonymous", "unspecified", "unknown", "none", "title"})


def parse(data: bytes, name: str) -> ParsedFile:
    """Extract each page's text with pypdf; ``page`` is the 1-based page number.

    Raises `DocumentError` for a corrupt or password-protected PDF, and for one whose pages
    carry no text (a scan), since indexing it would silently find nothing.
    """
    # pypdf costs ~100 ms to import; the server should not pay that unless it meets a PDF.
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            # Many PDFs are "encrypted" only to restrict printing, with an empty user password.
            try:
                opened = reader.decrypt("")
            except (DependencyError, NotImplementedError) as exc:
                raise DocumentError(f"encrypted PDF cannot be opened: {exc}") from exc
            if not opened:
                raise DocumentError("encrypted PDF: it needs a password to be read")
        page_count = len(reader.pages)
        texts = [_page_text(reader, index) for index in range(page_count)]
        headings = _page_headings(reader, page_count)
        title, metadata = _document_info(reader)
    except (DocumentError, RecursionError):
        raise
    except FileNotDecryptedError as exc:
        raise DocumentError(f"encrypted PDF: {exc}") from exc
    except Exception as exc:
        # pypdf reports damaged files with many exception types (its own, ValueError,
        # KeyError, TypeError...); for the caller they all mean the same thing.
        raise DocumentError(f"corrupt PDF: {exc or type(exc).__name__}") from exc

    sections = [
        Section(heading_path=headings[index], text=text, page=index + 1) for index, text in enumerate(texts) if text
    ]
    if not sections:
        raise DocumentError("PDF has no extractable text (scanned image?)")
    metadata["pages"] = page_count
    return ParsedFile(title=title, sections=sections, mime_type=MIME_TYPE, metadata=metadata)


def _page_text(reader: PdfReader, index: int) -> str:
    """One page's text with runs of spaces collapsed and at most one blank line in a row."""
    raw = reader.pages[index].extract_text() or ""
    lines = collapse_spaces(raw).split("\n")
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    text = "\n".join(kept).strip()
    charge(len(text))
    return text


def _page_headings(reader: PdfReader, page_count: int) -> list[list[str]]:
    """For each page, the outline path of the last outline entry starting on or before it."""
    starts: list[tuple[int, list[str]]] = []
    _collect_outline(reader, reader.outline, [], starts)
    # Outlines are usually in page order, but not always; sorting is stable for ties.
    starts.sort(key=lambda entry: entry[0])
    headings: list[list[str]] = []
    current: list[str] = []
    position = 0
    for page in range(page_count):
        while position < len(starts) and starts[position][0] <= page:
            current = starts[position][1]
            position += 1
        headings.append(list(current))
    return headings


def _collect_outline(reader: PdfReader, items: list[Any], parent: list[str], out: list[tuple[int, list[str]]]) -> None:
    """Flatten pypdf's outline, where a nested list holds the children of the item before it."""
    path = parent
    for item in items:
        if isinstance(item, list):
            _collect_outline(reader, item, path, out)
            continue
        title = collapse_spaces(str(getattr(item, "title", "") or ""))
        path = [*parent, title] if title else parent
        page = reader.get_destination_page_number(item)
        if title and page is not None and page >= 0:
            out.append((page, path))


def _document_info(reader: PdfReader) -> tuple[str | None, dict[str, MetadataValue]]:
    """The document title and a few descriptive fields from the PDF's info dictionary."""
    info = reader.metadata
    if info is None:
        return None, {}
    metadata: dict[str, MetadataValue] = {}
    for key, value in (("author", info.author), ("subject", info.subject)):
        if _meaningful(value):
            metadata[key] = str(value).strip()
    return (str(info.title).strip() if _meaningful(info.title) else None), metadata


def _meaningful(value: object) -> bool:
    """Whether an info field holds real text rather than nothing or a producer's placeholder."""
    text = str(value or "").strip()
    return bool(text) and text.lower() not in _PLACEHOLDERS
