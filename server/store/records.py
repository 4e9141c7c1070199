"""The data the index holds: chunks as cut, documents, chunks and sync state as stored, and how rows map to them."""

from __future__ import annotations

import json
import sqlite3

from pydantic import BaseModel, Field

from orgkb.connectors.base import Document, Location, MetadataValue, Section


class Chunk(BaseModel):
    """A piece of one document, sized for the embedding model and citable on its own."""

    id: str
    doc_id: str
    ordinal: int
    text: str
    heading_path: list[str] = Field(default_factory=list)
    location: Location = Field(default_factory=Location)
    anchor: str | None = None
    language: str | None = Field(default=None, description="Set by the indexer when the chunk's language is known.")

    def embedding_text(self, title: str) -> str:
        """What is embedded: the document title and heading path give the chunk its context."""
        context = context_line(title, self.heading_path)
        return f"{context}\n{self.text}" if context else self.text


def context_line(title: str, heading_path: list[str]) -> str:
    """``Title > Heading > Subheading``, without repeating a first heading equal to the title."""
    headings = heading_path[1:] if heading_path and title and heading_path[0].strip() == title.strip() else heading_path
    return " > ".join(part for part in [title, *headings] if part)


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


def _same_named(row: sqlite3.Row, model: type[BaseModel]) -> dict[str, object]:
    """The row's columns that a field of ``model`` is named after, as they are."""
    columns = set(row.keys())
    return {name: row[name] for name in model.model_fields if name in columns}


def stored_document(row: sqlite3.Row, with_sections: bool) -> StoredDocument:
    """A documents row as a `StoredDocument` (``sections`` only when selected and asked for)."""
    sections = [Section.model_validate(s) for s in json.loads(row["sections"])] if with_sections else []
    return StoredDocument.model_validate(
        {**_same_named(row, StoredDocument), "metadata": json.loads(row["metadata"]), "sections": sections}
    )


def stored_chunk(row: sqlite3.Row) -> StoredChunk:
    """A chunks row joined with its document's citation fields."""
    location = Location(line_start=row["line_start"], line_end=row["line_end"], page=row["page"])
    return StoredChunk.model_validate(
        {**_same_named(row, StoredChunk), "heading_path": json.loads(row["heading_path"]), "location": location}
    )
