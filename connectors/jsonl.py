"""JSON-lines files (`type = "jsonl"`): one record per line becomes one document.

Exports of tickets, CRM notes, chat archives and benchmark corpora (BEIR's ``corpus.jsonl``)
are commonly JSON lines. Which fields hold the id, title, text, metadata and date is
configurable; the defaults read the BEIR layout (``_id``, ``title``, ``text``).

Files are streamed line by line, so memory stays bounded whatever their size. Each record's
version is a hash of its line (and of the field mapping), so an unchanged record costs a JSON
parse and nothing else. A malformed line is reported as a `Failure` and the rest of the file
is indexed; when the broken line still shows its id, the previously indexed version of that
record is kept rather than deleted.

With ``groups_field`` each record is readable by the groups it names (see
`orgkb.connectors.permissions.row_group_permissions`); the field is part of the line, so of the
version, but not of the document, so a change of groups re-embeds nothing.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal
from urllib.parse import quote

from pydantic import Field, ValidationInfo, field_validator, model_validator

from orgkb.connectors.base import (
    BaseConnector,
    ConnectorType,
    ConnectorError,
    Document,
    DocumentError,
    DocumentRef,
    Failure,
    MetadataValue,
    Section,
    SourceConfig,
    SourceUnavailable,
)
from orgkb.connectors.permissions import Permissions, row_group_permissions

_GLOB_CHARS = re.compile(r"[*?\[]")
_MAX_EPOCH_SECONDS = 1e11  # larger numbers are taken as milliseconds


class JsonlConfig(SourceConfig):
    """A source of one or more JSON-lines files (``.jsonl``, ``.ndjson``, optionally gzipped)."""

    type: Literal["jsonl"] = "jsonl"
    paths: list[str] = Field(min_length=1, description="Files or globs (``exports/*.jsonl``); relative to the config file.")
    id_field: str = Field(default="_id", description="Field holding each record's unique id.")
    title_field: str | None = Field(default="title", description="Field holding the title (the id when absent).")
    text_field: str | list[str] = Field(
        default="text", description="Field(s) holding the text; several become sections headed by the field name."
    )
    metadata_fields: list[str] = Field(
        default_factory=list, description="Fields kept as filterable metadata; ``a.b`` reaches into nested objects."
    )
    modified_field: str | None = Field(
        default=None, description="Field holding the record's date (ISO 8601 or Unix seconds/milliseconds)."
    )
    uri_template: str | None = Field(
        default=None, description="Citation link for a record, with ``{id}``, e.g. ``https://crm.example.com/notes/{id}``."
    )
    groups_field: str | None = Field(
        default=None,
        description='Field naming the groups that may see each record ("hr, finance", "hr;finance" or an array); '
        "a record without groups is for admins only. Never indexed as text. The source's `allow` replaces it.",
    )
    max_line_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, description="Longer lines are skipped and reported.")

    @field_validator("paths", mode="after")
    @classmethod
    def _resolve_paths(cls, value: list[str], info: ValidationInfo) -> list[str]:
        resolved = []
        for pattern in value:
            full = SourceConfig.resolve_path(pattern, info)
            if not _GLOB_CHARS.search(pattern) and not full.is_file():
                raise SourceUnavailable(f"file not found: {full}")
            resolved.append(str(full))
        return resolved

    @field_validator("uri_template")
    @classmethod
    def _check_template(cls, value: str | None) -> str | None:
        if value is not None and "{id}" not in value:
            raise ValueError("uri_template must contain {id}")
        return value

    @model_validator(mode="after")
    def _groups_field_stays_hidden(self) -> JsonlConfig:
        # Shown as text or metadata the groups would be searchable and in the content hash.
        shown = [self.id_field, self.title_field, self.modified_field, *self.text_fields, *self.metadata_fields]
        if self.groups_field is not None and self.groups_field in shown:
            raise ValueError(f"`groups_field` {self.groups_field!r} must not also be an id, title, text, date or metadata field")
        return self

    @property
    def text_fields(self) -> list[str]:
        """The text field names as a list."""
        return [self.text_field] if isinstance(self.text_field, str) else list(self.text_field)

    def mapping_fingerprint(self) -> str:
        """A hash of every setting that shapes a document: changing one re-reads every record."""
        keys = ("id_field", "title_field", "text_field", "metadata_fields", "modified_field", "uri_template", "groups_field")
        blob = json.dumps({k: getattr(self, k) for k in keys}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


class RecordError(DocumentError):
    """A record that cannot become a document (missing id, wrong type, bad date)."""


class JsonlConnector(BaseConnector):
    """Indexes every record of the configured JSON-lines files."""

    def __init__(self, config: JsonlConfig) -> None:
        self.config = config

    def files(self) -> list[Path]:
        """The files the configured paths and globs name now, in a stable order."""
        found: dict[Path, None] = {}
        for pattern in self.config.paths:
            matches = sorted(glob.glob(pattern, recursive=True)) if _GLOB_CHARS.search(pattern) else [pattern]
            for match in matches:
                path = Path(match)
                if path.is_file():
                    found.setdefault(path, None)
        return list(found)

    def check(self) -> list[str]:
        files = self.files()
        if not files:
            # Deleting every record because a share is unmounted would be worse than indexing nothing new.
            raise ConnectorError(f"{self.config.name}: no file matches {', '.join(self.config.paths)}")
        for path in files:
            try:
                with path.open("rb"):
                    pass
            except OSError as exc:
                raise ConnectorError(f"{self.config.name}: cannot read {path}: {exc.strerror or exc}") from None
        return []

    def list_documents(self) -> Iterator[DocumentRef | Failure]:
        self.check()
        first_seen: dict[str, str] = {}
        fingerprint = self.config.mapping_fingerprint()
        for path in self.files():
            for line_number, raw in self._lines(path):
                where = f"{path.name}:{line_number}"
                if raw is None:
                    yield self._failure(where, f"line longer than {self.config.max_line_bytes} bytes: skipped", skipped=True)
                    continue
                if not raw.strip():
                    continue
                try:
                    record = json.loads(raw)
                except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                    yield self._failure(self._salvage_id(raw) or where, f"{where}: not valid JSON: {exc}")
                    continue
                try:
                    document = self.to_document(record, path)
                except RecordError as exc:
                    key = _record_id(record, self.config.id_field) if isinstance(record, dict) else None
                    yield self._failure(key or where, f"{where}: {exc}")
                    continue
                if document.key in first_seen:
                    yield self._failure(where, f"duplicate id {document.key!r} (first at {first_seen[document.key]}): skipped")
                    continue
                first_seen[document.key] = where
                version = hashlib.sha256(fingerprint.encode() + raw.strip()).hexdigest()[:32]
                yield DocumentRef(key=document.key, version=version, document=document.model_copy(update={"version": version}))

    def load(self, ref: DocumentRef) -> Document:
        if ref.document is not None:
            return ref.document
        for item in self.list_documents():
            if isinstance(item, DocumentRef) and item.key == ref.key and item.document is not None:
                return item.document
        raise DocumentError(f"no record with id {ref.key!r} any more")

    def to_document(self, record: Any, path: Path) -> Document:
        """The document for one parsed record; `RecordError` says what is wrong with it."""
        config = self.config
        if not isinstance(record, dict):
            raise RecordError(f"expected a JSON object, got {type(record).__name__}")
        key = _record_id(record, config.id_field)
        if key is None:
            raise RecordError(f"no {config.id_field!r} field (set `id_field` to the field holding the id)")
        title = _as_text(field_value(record, config.title_field)) if config.title_field else ""
        fields = config.text_fields
        sections = []
        for name in fields:
            text = _as_text(field_value(record, name)).strip()
            if text:
                sections.append(Section(heading_path=[name] if len(fields) > 1 else [], text=text))
        if not sections:
            if not title:
                raise RecordError(f"no text in {', '.join(repr(f) for f in fields)} and no title")
            sections = [Section(text=title)]  # a title-only record is still findable
        if config.uri_template:
            uri = config.uri_template.replace("{id}", quote(key, safe=""))
        else:
            uri = f"{path.resolve().as_uri()}#{quote(key, safe='')}"
        return Document(
            source=config.name,
            key=key,
            title=title or key,
            uri=uri,
            sections=sections,
            metadata=self._metadata(record),
            modified=self._modified(record),
            mime_type="application/jsonl",
            permissions=self._permissions(record),
        )

    def _permissions(self, record: dict[str, Any]) -> Permissions | None:
        """The record's groups field as permissions (None when no `groups_field` is configured)."""
        name = self.config.groups_field
        if name is None:
            return None
        return row_group_permissions(field_value(record, name), f"field {name}", None)

    def _metadata(self, record: dict[str, Any]) -> dict[str, MetadataValue]:
        metadata: dict[str, MetadataValue] = {}
        for name in self.config.metadata_fields:
            value = field_value(record, name)
            if value is None:
                continue
            if isinstance(value, bool | int | float | str):
                metadata[name] = value
            elif isinstance(value, list) and all(isinstance(v, bool | int | float | str) for v in value):
                metadata[name] = ", ".join(str(v) for v in value)
            else:
                metadata[name] = json.dumps(value, ensure_ascii=False, sort_keys=True)
        return metadata

    def _modified(self, record: dict[str, Any]) -> datetime | None:
        name = self.config.modified_field
        if not name:
            return None
        value = field_value(record, name)
        if value is None or value == "":
            return None
        try:
            if isinstance(value, int | float) and not isinstance(value, bool):
                seconds = value / 1000 if value > _MAX_EPOCH_SECONDS else value
                return datetime.fromtimestamp(seconds, tz=UTC)
            if isinstance(value, str):
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except (ValueError, OverflowError, OSError):
            pass
        raise RecordError(f"{name!r} is not a date: {str(value)[:40]!r} (use ISO 8601 or Unix seconds)")

    def _lines(self, path: Path) -> Iterator[tuple[int, bytes | None]]:
        """``(line number, raw line)``; ``None`` for a line over the size limit (read past, never held)."""
        limit = self.config.max_line_bytes
        try:
            with _open(path) as handle:
                number = 0
                while True:
                    line = handle.readline(limit + 1)
                    if not line:
                        return
                    number += 1
                    if len(line) > limit and not line.endswith(b"\n"):
                        while line and not line.endswith(b"\n"):
                            line = handle.readline(limit)
                        yield number, None
                        continue
                    yield number, line
        except (OSError, EOFError) as exc:
            # A file that stops being readable midway is an incomplete listing: nothing may be deleted.
            raise ConnectorError(f"{self.config.name}: cannot read {path}: {exc}") from None

    def _salvage_id(self, raw: bytes) -> str | None:
        """The id of a broken line when it is still legible, so its indexed version is kept."""
        pattern = rb'"' + re.escape(self.config.id_field.encode()) + rb'"\s*:\s*("(?:[^"\\]|\\.)*"|-?\d+)'
        match = re.search(pattern, raw)
        if not match:
            return None
        try:
            value = json.loads(match.group(1))
        except (ValueError, UnicodeDecodeError):
            return None
        return str(value) or None

    def _failure(self, key: str, message: str, *, skipped: bool = False) -> Failure:
        return Failure(source=self.config.name, key=key, message=message, skipped=skipped)


def field_value(record: dict[str, Any], name: str) -> Any:
    """``record[name]``, or for ``a.b`` the nested ``record["a"]["b"]`` (a literal ``a.b`` key wins)."""
    if name in record:
        return record[name]
    node: Any = record
    for part in name.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _record_id(record: dict[str, Any], id_field: str) -> str | None:
    value = field_value(record, id_field)
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n\n".join(_as_text(v) for v in value if v is not None)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _open(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


CONNECTOR = ConnectorType(type="jsonl", config_model=JsonlConfig, factory=JsonlConnector, description="JSON-lines files: one record per line (exports, BEIR corpora).")
