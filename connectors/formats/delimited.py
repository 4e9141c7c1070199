"""CSV and TSV: each data row becomes one line of ``header: value`` pairs."""

from __future__ import annotations

import csv
import io

from orgkb.connectors.base import DocumentError, MetadataValue
from orgkb.connectors.formats.model import ParsedFile
from orgkb.connectors.formats.text import sections_from_numbered_lines
from orgkb.connectors.limits import charge

MIME_TYPES = {".csv": "text/csv", ".tsv": "text/tab-separated-values"}
ROWS_PER_SECTION = 50
_SNIFF_CHARS = 64 * 1024
_DELIMITERS = ",;\t|"


def parse(text: str, name: str) -> ParsedFile:
    """Render rows as ``header1: v1 | header2: v2``, in sections of up to 50 rows.

    The first row is the header. ``line_start`` is the source line of the section's first
    row (the header is line 1); a row whose quoted values span several lines starts a new
    section after it, so line numbers stay exact.
    """
    suffix = name[name.rfind(".") :].lower() if "." in name else ".csv"
    reader = csv.reader(io.StringIO(text, newline=""), _dialect(text, suffix))
    header: list[str] | None = None
    rows: list[tuple[int, str]] = []
    previous_end = 0
    records = iter(reader)
    while True:
        try:
            record = next(records)
        except StopIteration:
            break
        except csv.Error as exc:  # an oversized field, a stray quote in strict dialects
            raise DocumentError(f"malformed CSV near line {reader.line_num}: {exc}") from exc
        start, previous_end = previous_end + 1, reader.line_num
        if not any(value.strip() for value in record):
            continue
        if header is None:
            header = [value.strip() for value in record]
            continue
        rendered = _render(header, record)
        charge(len(rendered) + 1)  # every row repeats the header: a wide file grows many times over
        rows.append((start, rendered))
    metadata: dict[str, MetadataValue] = {"columns": ", ".join(column for column in header if column)} if header else {}
    return ParsedFile(
        sections=sections_from_numbered_lines(rows, ROWS_PER_SECTION),
        mime_type=MIME_TYPES.get(suffix, "text/csv"),
        metadata=metadata,
    )


def _dialect(text: str, suffix: str) -> type[csv.Dialect] | csv.Dialect:
    """Tab for .tsv; otherwise what the sniffer finds (``;`` is common in European exports)."""
    if suffix == ".tsv":
        return csv.excel_tab
    try:
        return csv.Sniffer().sniff(text[:_SNIFF_CHARS], delimiters=_DELIMITERS)
    except csv.Error:
        return csv.excel


def _render(header: list[str], record: list[str]) -> str:
    """One row on one line; empty values are left out, extra values get a column number."""
    parts: list[str] = []
    for index, raw in enumerate(record):
        value = " ".join(raw.split())
        if not value:
            continue
        column = header[index] if index < len(header) and header[index] else f"column {index + 1}"
        parts.append(f"{column}: {value}")
    return " | ".join(parts)
