"""What the application service returns: documents, sources and status, as pydantic models.

Front ends render these (MCP structured content and text, CLI tables and JSON); none of them
reaches past the service for more.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from orgkb.connectors.base import Failure, MetadataValue
from orgkb.server.app.health import Problem
from orgkb.server.index.live import SourceActivity


class FetchedDocument(BaseModel):
    """A whole indexed document (or one window of it) as text."""

    doc_id: str
    title: str
    uri: str = Field(description="Where a person opens the original.")
    resource_uri: str
    source: str
    mime_type: str
    modified: datetime | None
    metadata: dict[str, MetadataValue]
    text: str
    offset: int = Field(description="Character offset of `text` in the whole document.")
    total_chars: int
    truncated: bool = Field(description="True when more text follows; fetch again with `next_offset`.")
    next_offset: int | None = None


class SourceInfo(BaseModel):
    """One configured source and the state of its index."""

    name: str
    type: str
    description: str
    documents: int
    chunks: int
    last_sync: datetime | None
    last_error: str | None
    failures: list[Failure] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list, description="Languages its passages are written in, most used first.")
    file_types: list[str] = Field(default_factory=list, description="Values for search's `file_types`.")
    metadata: dict[str, list[MetadataValue]] = Field(
        default_factory=dict, description="Metadata keys search's `metadata` filter takes, with example values."
    )
    disabled: str | None = Field(default=None, description="Why the source is not served (e.g. its folder is missing).")


class SourceList(BaseModel):
    """The sources a caller may see."""

    sources: list[SourceInfo]


class SourceStatus(SourceInfo):
    """A source's index state and what live sync is doing with it."""

    sync: SourceActivity | None = None


class IndexStatus(BaseModel):
    """The index as one caller may see it (the `orgkb://status` resource)."""

    embedding_model: str | None = Field(description="The model the index was built with.")
    documents: int
    chunks: int
    live_sync: bool
    writer: str
    sources: list[SourceStatus]
    problems: list[Problem] = Field(default_factory=list, description="What is wrong now, each with its fix.")
    log_file: str | None = None


class AccessDecision(BaseModel):
    """Whether a principal may open one document, and which rule decided (`orgkb access`)."""

    user: str
    groups: list[str]
    doc_id: str
    title: str
    uri: str = Field(description="Where a person opens the original.")
    resource_uri: str
    allowed: bool
    decided_by: str = Field(description="The rule that decided, in words.")
    rule: str | None = Field(default=None, description="The document's recorded permissions rule, when it has one.")
    document_allows: list[str] = Field(default_factory=list, description="The principal names the document allows.")
    matched: list[str] = Field(default_factory=list, description="The caller's principal names the document allows.")
