"""Turning a database row into a citable document: its key, version stamp, title, text and link.

Keys are ``<table>/<id>`` (``<table>/<id1>/<id2>`` for composite keys, each part
percent-encoded). The citation uri is the database without credentials, then the table and the
row's id as query parameters, e.g. ``postgresql://db.internal:5432/crm/customers?customer_id=42``
or ``sqlite:////srv/data/app.db/products?sku=BW-100``, unless the entry has a ``uri`` template
that links into the organisation's own application.

The version stamp is ``<config signature>:<updated_at>`` when the entry has ``updated_at``, else
``<config signature>:<hash of the row's values>``: an unchanged row is skipped before it is even
rendered, and editing the entry's template renders every row again.

A row's permissions come from the entry's ``row_groups_column`` (falling back to its ``allow``)
or its ``allow`` alone. The groups column is never rendered and never in the content hash, but
it is in the version stamp, so a changed value reloads the row and only its permissions change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import string
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

from orgkb.connectors.base import Document, DocumentError, MetadataValue, Section
from orgkb.connectors.permissions import Permissions, row_group_permissions
from orgkb.connectors.sql.config import TableConfig


class _RowFormatter(string.Formatter):
    """``str.format`` over a row, where a NULL renders as nothing whatever its format spec."""

    def format_field(self, value: Any, format_spec: str) -> str:
        if value is None:
            return ""
        return super().format_field(value, format_spec)


_FORMATTER = _RowFormatter()


def render_template(template: str, row: Mapping[str, Any]) -> str:
    """``template`` with each ``{column}`` (and ``{column:spec}``) replaced by the row's value."""
    try:
        return _FORMATTER.vformat(template, (), row)
    except KeyError as exc:
        raise DocumentError(f"template {template!r}: the row has no column {exc.args[0]!r}") from None
    except (ValueError, TypeError) as exc:
        raise DocumentError(f"template {template!r}: {exc}") from None


def text_value(value: Any) -> str:
    """A value as it reads in a document."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(bytes(value))} bytes>"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def metadata_value(value: Any) -> MetadataValue | None:
    """A value as filterable metadata (None: leave it out)."""
    if value is None or isinstance(value, bytes | bytearray | memoryview):
        return None
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return text_value(value)


def modified_time(value: Any) -> dt.datetime | None:
    """An ``updated_at`` value as an aware datetime (naive values are taken as UTC)."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    return None


class RowRenderer:
    """Keys, version stamps and documents for the rows of one table entry."""

    def __init__(self, source: str, entry: TableConfig, columns: Sequence[str], base_uri: str) -> None:
        self.source = source
        self.entry = entry
        self.prefix = entry.key_prefix
        self.ids = entry.ids
        self.columns = list(columns)
        self.base_uri = base_uri
        self.signature = entry.signature
        self.title_template = entry.title_template

    def id_values(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        """The row's id column values."""
        return tuple(row[c] for c in self.ids)

    def key(self, row: Mapping[str, Any]) -> str:
        """``<table>/<id>`` (percent-encoded parts, ``/`` between composite id parts)."""
        return self.prefix + "/" + "/".join(quote(text_value(v), safe="") for v in self.id_values(row))

    def version(self, row: Mapping[str, Any]) -> str | None:
        """The change stamp: updated_at (None when NULL: compared by content then) or a row hash."""
        if self.entry.updated_at:
            stamp = row[self.entry.updated_at]
            if stamp is None:
                return None
            # The row's groups are part of the stamp: a permission change reloads the row
            # (and re-embeds nothing: they are not in its content hash).
            groups = row[self.entry.row_groups_column] if self.entry.row_groups_column else None
            suffix = f":{hashlib.blake2b(text_value(groups).encode(), digest_size=6).hexdigest()}" if groups is not None else ""
            return f"{self.signature}:{text_value(stamp)}{suffix}"
        values = json.dumps([text_value(row[c]) for c in self.columns], ensure_ascii=False)
        return f"{self.signature}:{hashlib.blake2b(values.encode(), digest_size=12).hexdigest()}"

    def document(self, row: Mapping[str, Any]) -> Document:
        """The row as a document; `DocumentError` when a template cannot render it."""
        ids = self.id_values(row)
        if any(v is None for v in ids):
            raise DocumentError(f"the row has no value in its id column(s) {', '.join(self.ids)}")
        title = render_template(self.title_template, row).strip() if self.title_template else ""
        if not title:
            title = f"{self.prefix} {' / '.join(text_value(v) for v in ids)}"
        body = self._text(row) or title
        metadata: dict[str, MetadataValue] = {"table": self.prefix, "file_type": "row"}
        for column in self.entry.metadata:
            value = metadata_value(row[column])
            if value is not None:
                metadata[column] = value
        return Document(
            source=self.source,
            key=self.key(row),
            title=title,
            uri=self.uri(row),
            sections=[Section(text=body)],
            metadata=metadata,
            modified=modified_time(row[self.entry.updated_at]) if self.entry.updated_at else None,
            mime_type="text/plain",
            version=self.version(row),
            permissions=self.permissions(row),
        )

    def permissions(self, row: Mapping[str, Any]) -> Permissions | None:
        """Who may read the row: its groups column, else the entry's ``allow`` (None: neither is set)."""
        column = self.entry.row_groups_column
        if column is None:
            return self.entry.table_permissions()
        return row_group_permissions(row[column], f"table {self.prefix} column {column}", self.entry.table_permissions())

    def uri(self, row: Mapping[str, Any]) -> str:
        """The citation link: the entry's ``uri`` template, else database/table?id=value."""
        if self.entry.uri:
            return render_template(self.entry.uri, row)
        return f"{self.base_uri}/{quote(self.prefix)}?{urlencode([(c, text_value(row[c])) for c in self.ids])}"

    def _text(self, row: Mapping[str, Any]) -> str:
        if self.entry.template is not None:
            return render_template(self.entry.template, row).strip()
        hidden = self.entry.row_groups_column
        columns = self.entry.text if self.entry.text is not None else [c for c in self.columns if c != hidden]
        paragraphs = []
        for column in columns:
            value = text_value(row[column]).strip()
            if value:
                paragraphs.append(f"{column}: {value}")
        # Paragraph breaks let the chunker split a long row between columns, never inside one.
        return "\n\n".join(paragraphs)
