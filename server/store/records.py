"""The catalog's records: documents, chunks and sync state as stored, and how rows map to them."""

from __future__ import annotations

import json
import sqlite3

from pydantic import BaseModel, Field

from orgkb.connectors.base import Document, Location, MetadataValue, Section
from orgkb.server.index.chunking import Chunk


class StoredDocument(BaseModel):
    """A document as the catalog holds it."""

    doc_id: str
    source: str
    key: str
    title: str
    uri: str
    mime_type: str
    file_type: str
    modified: float | None
    version: str | None
    content_hash: str
    metadata: dict[str, MetadataValue]
    chunk_count: int
    indexed_at: float
    sections: list[Section] = Field(default_factory=list)

    def as_document(self) -> Document:
        """The stored document in the connector data model (for rendering its text)."""
        return Document(
            source=self.source,
            key=self.key,
            title=self.title,
            uri=self.uri,
            sections=self.sections,
            metadata=self.metadata,
            mime_type=self.mime_type,
        )


class StoredChunk(BaseModel):
    """A chunk as the catalog holds it, with its document's citation fields."""

    chunk_id: str
    doc_id: str
    ordinal: int
    text: str
    heading_path: list[str]
    location: Location
    anchor: str | None
    source: str
    key: str
    title: str
    uri: str
    file_type: str
    modified: float | None
    language: str | None = None


class SourceState(BaseModel):
    """Sync state of one source."""

    name: str
    cursor: str | None = None
    last_sync: float | None = None
    last_full_sync: float | None = None
    last_error: str | None = None
    last_summary: dict[str, int] = Field(default_factory=dict)


class DocumentWrite(BaseModel):
    """A document and its chunks, ready to be swapped into the catalog."""

    document: Document
    chunks: list[Chunk]
    language: str | None = Field(default=None, description="The document's language; each chunk may have its own.")


def file_type_of(document: Document) -> str:
    """A short type for filtering: the connector's ``file_type`` metadata, else from the mime type."""
    explicit = document.metadata.get("file_type")
    if isinstance(explicit, str) and explicit:
        return explicit
    subtype = document.mime_type.split("/")[-1]
    return subtype.removeprefix("x-").split(".")[-1].split("+")[0]


def stored_document(row: sqlite3.Row, with_sections: bool) -> StoredDocument:
    """A documents row as a `StoredDocument` (``sections`` only when selected and asked for)."""
    return StoredDocument(
        doc_id=row["doc_id"],
        source=row["source"],
        key=row["key"],
        title=row["title"],
        uri=row["uri"],
        mime_type=row["mime_type"],
        file_type=row["file_type"],
        modified=row["modified"],
        version=row["version"],
        content_hash=row["content_hash"],
        metadata=json.loads(row["metadata"]),
        chunk_count=row["chunk_count"],
        indexed_at=row["indexed_at"],
        sections=[Section.model_validate(s) for s in json.loads(row["sections"])] if with_sections else [],
    )


def stored_chunk(row: sqlite3.Row) -> StoredChunk:
    """A chunks row joined with its document's citation fields."""
    return StoredChunk(
        chunk_id=row["chunk_id"],
        doc_id=row["doc_id"],
        ordinal=row["ordinal"],
        text=row["text"],
        heading_path=json.loads(row["heading_path"]),
        location=Location(line_start=row["line_start"], line_end=row["line_end"], page=row["page"]),
        anchor=row["anchor"],
        source=row["source"],
        key=row["key"],
        title=row["title"],
        uri=row["uri"],
        file_type=row["file_type"],
        modified=row["modified"],
        language=row["language"],
    )
