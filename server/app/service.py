"""What the MCP server and the CLI both do with an index: search, fetch, describe sources.

Kept apart from any transport so the CLI, the MCP tools and the benchmark share one code path.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from orgkb.connectors.base import ConnectorRegistry, Failure, MetadataValue
from orgkb.connectors.identifiers import doc_id, document_uri, parse_document_uri
from orgkb.server.app.access import FULL_ACCESS, Access
from orgkb.server.store.catalog import StoredDocument
from orgkb.server.errors import NotFoundError, OrgkbError
from orgkb.server.index.knowledge import KnowledgeIndex
from orgkb.server.search.searcher import Searcher

DEFAULT_FETCH_CHARS = 20_000


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
    file_types: list[str] = Field(default_factory=list, description="Values for search's `file_types`.")
    metadata: dict[str, list[MetadataValue]] = Field(
        default_factory=dict, description="Metadata keys search's `metadata` filter takes, with example values."
    )


class SourceList(BaseModel):
    """All configured sources."""

    sources: list[SourceInfo]


MAX_FILTER_KEYS = 12
FILTER_EXAMPLES = 3


def filterable(file_types: list[str], metadata: list[dict[str, object]]) -> dict[str, object]:
    """``file_types`` and ``metadata`` of a `SourceInfo`: each metadata key with its commonest values.

    Only scalar values can be filtered on (equality); keys are ordered by how many documents
    have them, values by how often they occur.
    """
    counts: dict[str, Counter[MetadataValue]] = {}
    for values in metadata:
        for key, value in values.items():
            if isinstance(value, str | int | float | bool):
                counts.setdefault(key, Counter())[value] += 1
    keys = sorted(counts, key=lambda k: (-sum(counts[k].values()), k))[:MAX_FILTER_KEYS]
    examples = {key: [value for value, _ in counts[key].most_common(FILTER_EXAMPLES)] for key in keys}
    return {"file_types": file_types, "metadata": examples}


class KnowledgeService:
    """The operations every front end offers over one `KnowledgeIndex`."""

    def __init__(self, index: KnowledgeIndex) -> None:
        self.index = index
        self.searcher = Searcher(index)
        self._warm = threading.Event()
        self.warm_error: str | None = None

    def warm_up(self) -> None:
        """Load the model and open the store now (called in the background by the server)."""
        try:
            self.index.open()
            self.index.embedder.embed_query("warm up")
            self.searcher.prepare()
        except Exception as exc:  # noqa: BLE001 - reported on first use instead of crashing the server
            self.warm_error = str(exc)
        finally:
            self._warm.set()

    def resolve(self, reference: str, access: Access = FULL_ACCESS) -> StoredDocument:
        """The document an ``orgkb://`` uri, a citation uri (file://, https://) or a doc id names.

        A document of a source ``access`` may not see is reported exactly like a missing one.
        """
        reference = reference.strip()
        catalog = self.index.catalog
        named = parse_document_uri(reference)
        if named is not None:
            document = catalog.get_document(doc_id(*named))
        elif urlsplit(reference).scheme and "://" in reference:
            # A citation uri: file://, https://, smb://, or a database row (postgresql://..., sqlite://...).
            document = catalog.find_document_by_uri(reference)
        else:
            document = catalog.get_document(reference)
        if document is None or not access.can_see(document.source):
            raise NotFoundError(
                f"no indexed document for {reference!r}; use a `resource_uri` or `uri` from search results"
            )
        return document

    def fetch(
        self, reference: str, offset: int = 0, max_chars: int = DEFAULT_FETCH_CHARS, access: Access = FULL_ACCESS
    ) -> FetchedDocument:
        """The text of a document, ``max_chars`` at a time from ``offset``."""
        document = self.resolve(reference, access)
        text = document.as_document().text
        if offset > 0 and offset >= len(text):
            raise OrgkbError(
                f"offset {offset} is past the end of {document.doc_id!r} ({len(text)} characters); use an offset below {len(text)}"
            )
        offset = max(0, offset)
        end = min(len(text), offset + max(1, max_chars))
        return FetchedDocument(
            doc_id=document.doc_id,
            title=document.title,
            uri=document.uri,
            resource_uri=document_uri(document.source, document.key),
            source=document.source,
            mime_type=document.mime_type,
            modified=datetime.fromtimestamp(document.modified, tz=UTC) if document.modified else None,
            metadata=document.metadata,
            text=text[offset:end],
            offset=offset,
            total_chars=len(text),
            truncated=end < len(text),
            next_offset=end if end < len(text) else None,
        )

    def list_sources(self, access: Access = FULL_ACCESS) -> SourceList:
        """Configured sources (those ``access`` may see) with their document counts and sync state."""
        catalog = self.index.catalog
        counts = catalog.counts()
        infos = []
        for source in self.index.config.sources:
            if not access.can_see(source.name):
                continue
            state = catalog.source_state(source.name)
            documents, chunks = counts.get(source.name, (0, 0))
            infos.append(
                SourceInfo(
                    name=source.name,
                    type=source.type,
                    description=ConnectorRegistry.get(source.type).description,
                    documents=documents,
                    chunks=chunks,
                    last_sync=datetime.fromtimestamp(state.last_sync, tz=UTC) if state.last_sync else None,
                    last_error=state.last_error,
                    failures=catalog.failures(source.name),
                    **filterable(*catalog.metadata_values(source.name)),
                )
            )
        return SourceList(sources=infos)
