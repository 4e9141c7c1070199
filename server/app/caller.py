"""`CallerView`: the application service bound to one caller, applying their access everywhere.

Every front end (MCP handlers, the CLI, extensions) gets one from `OrgkbService.for_caller`.
Its operations check the caller's access in one place (`may_see_source`, `may_read`): a source
the caller may not see is answered exactly like one that does not exist, and a document their
permissions do not allow exactly like one that was never indexed, in searches, documents,
listings, completions, status, re-indexing and SQL.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pydantic import ValidationError

from orgkb.connectors.base import MetadataValue
from orgkb.connectors.permissions import Permissions
from orgkb.connectors.identifiers import (
    STATUS_URI,
    doc_id,
    doc_id_prefix_of_uri,
    document_uri,
    parse_document_uri,
    source_of_uri,
    split_doc_id,
)
from orgkb.connectors.registry import connector_type
from orgkb.server.app.access import Access
from orgkb.server.app.health import Health
from orgkb.server.app.databases import DescribedTable, QueryResult, SqlToolError, TableList
from orgkb.server.app.results import FetchedDocument, IndexStatus, SourceInfo, SourceList, SourceStatus
from orgkb.server.config import SearchConfig
from orgkb.server.errors import InvalidArgumentError, NotFoundError, OrgkbError
from orgkb.server.index.indexer import IndexSummary, Progress
from orgkb.server.store.filters import SearchFilters
from orgkb.server.search.searcher import SearchMode, SearchResponse
from orgkb.server.store.records import StoredDocument

if TYPE_CHECKING:  # the service hands out views; a view only calls back into it
    from orgkb.server.app.service import OrgkbService

log = logging.getLogger(__name__)

DEFAULT_FETCH_CHARS = 20_000


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


class CallerView:
    """`OrgkbService` bound to one caller: every method applies the caller's access."""

    def __init__(self, service: OrgkbService, access: Access) -> None:
        self._service = service
        self.access = access
        self._configured = [s.name for s in service._config.sources]

    # --- the access rules, in one place ------------------------------------------------------

    @property
    def search_settings(self) -> SearchConfig:
        """The `[search]` defaults and limits."""
        return self._service.search_settings

    @property
    def sources(self) -> list[str]:
        """Configured sources this caller may see, in config order."""
        return self.access.visible(self._configured)

    def may_see_source(self, source: str) -> bool:
        """True when ``source`` is configured and this caller may see it."""
        return source in self._configured and self.access.can_see(source)

    def may_see_uri(self, uri: str) -> bool:
        """True for the status resource and for orgkb:// uris of sources this caller may see."""
        if uri == STATUS_URI:
            return True
        source = source_of_uri(uri)
        return source is not None and self.may_see_source(source)

    @property
    def _principals(self) -> frozenset[str] | None:
        """The principal names documents are checked against (None: whole sources, no per-document check)."""
        return self.access.principal_names

    def may_read(self, doc_id: str) -> bool:
        """True when this caller may read the indexed document ``doc_id`` (its source, and its
        permissions as the catalog records them)."""
        if self._principals is None:
            return self.may_see_source(split_doc_id(doc_id)[0])
        return self.may_have_read(doc_id, self._service._index.catalog.permissions_of(doc_id))

    def may_have_read(self, doc_id: str, permissions: Permissions | None) -> bool:
        """True when this caller could read ``doc_id`` with ``permissions`` (for a document that
        is gone from the catalog, with the permissions it had)."""
        return self.may_see_source(split_doc_id(doc_id)[0]) and (self._principals is None or self.access.allows(permissions))

    def _may_open(self, document: StoredDocument) -> bool:
        return self.may_read(document.doc_id)

    def _selected(self, requested: Iterable[str] | None) -> list[str] | None:
        """The sources a request works on (None: all, nothing hidden); unknown ones are an error."""
        return self.access.select(requested, self._configured)

    def _unknown_document(self, reference: str) -> NotFoundError:
        return NotFoundError(f"no indexed document for {reference!r}; use a `resource_uri` or `uri` from search results")

    # --- search and documents -----------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        limit: int | None = None,
        mode: SearchMode = "hybrid",
        sources: list[str] | None = None,
        path_prefix: str | None = None,
        file_types: list[str] | None = None,
        modified_after: datetime | None = None,
        modified_before: datetime | None = None,
        metadata: dict[str, MetadataValue] | None = None,
        min_relevance: float | None = None,
    ) -> SearchResponse:
        """The best cited passages for ``query`` among the documents this caller may see.

        ``min_relevance`` is the relevance floor (front ends pass `search_settings.min_relevance`);
        None keeps every hit and never reports "no_good_match".
        """
        if not query.strip():
            raise InvalidArgumentError("query: give some words to search for")
        settings = self._service.search_settings
        if limit is not None and not 1 <= limit <= settings.max_limit:
            raise InvalidArgumentError(f"limit: must be between 1 and {settings.max_limit}, not {limit}")
        selected = self._selected(sources)
        if selected == []:
            return SearchResponse(query=query, mode=mode, hits=[], took_ms=0.0)
        try:
            filters = SearchFilters(
                sources=selected,
                path_prefix=path_prefix,
                file_types=file_types,
                modified_after=modified_after,
                modified_before=modified_before,
                metadata=metadata,
                principals=self._principals,
            )
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"])
            raise InvalidArgumentError(f"invalid filter {where}: {error['msg'].removeprefix('Value error, ')}") from None
        response = self._service._searcher.search(query, limit=limit, mode=mode, filters=filters, min_relevance=min_relevance)
        # The filters already keep other sources and unreadable documents out; checked again
        # against the catalog (the source of truth for permissions, as for chunks) so no hit can
        # slip through, even from vectors whose permission metadata a crash left behind.
        hits = [hit for hit in response.hits if self.may_read(hit.doc_id)]
        return response.model_copy(update={"hits": hits})

    def resolve(self, reference: str) -> StoredDocument:
        """The document an ``orgkb://`` uri, a citation uri (file://, https://) or a doc id names."""
        reference = reference.strip()
        catalog = self._service._index.catalog
        named = parse_document_uri(reference)
        if named is not None:
            document = catalog.get_document(doc_id(*named))
        elif urlsplit(reference).scheme and "://" in reference:
            # A citation uri: file://, https://, smb://, or a database row (postgresql://..., sqlite://...).
            document = catalog.find_document_by_uri(reference)
        else:
            document = catalog.get_document(reference)
        if document is None or not self._may_open(document):
            raise self._unknown_document(reference)
        return document

    def stored_document(self, document_id: str) -> StoredDocument | None:
        """A document as stored (with its sections), or None when missing or not for this caller."""
        document = self._service._index.catalog.get_document(document_id)
        return document if document is not None and self._may_open(document) else None

    def fetch(self, reference: str, offset: int = 0, max_chars: int = DEFAULT_FETCH_CHARS) -> FetchedDocument:
        """The text of a document, ``max_chars`` at a time from ``offset``."""
        if offset < 0:
            raise InvalidArgumentError(f"offset: must be 0 or more, not {offset}")
        if max_chars < 1:
            raise InvalidArgumentError(f"max_chars: must be 1 or more, not {max_chars}")
        document = self.resolve(reference)
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

    def read_document(self, uri: str) -> FetchedDocument:
        """A whole document by its resource uri (resources/read)."""
        return self.fetch(uri, 0, 10**12)

    def list_documents(self, *, after: str | None = None, limit: int = 100) -> list[StoredDocument]:
        """Documents this caller may see, in id order, after the document id ``after`` (paging)."""
        catalog = self._service._index.catalog
        sources = self.sources if self.access.limited else None
        return catalog.list_documents(after=after, limit=limit, sources=sources, principals=self._principals)

    # --- completions --------------------------------------------------------------------------

    def complete_sources(self, prefix: str) -> list[str]:
        """Source names starting with ``prefix`` (case-insensitive)."""
        return [name for name in self.sources if name.lower().startswith(prefix.lower())]

    def complete_keys(self, source: str, prefix: str, limit: int) -> list[str]:
        """Document keys of ``source`` starting with ``prefix``."""
        if not self.may_see_source(source):
            return []
        documents = self._service._index.catalog.list_documents(
            sources=[source], prefix=doc_id(source, prefix), limit=limit, principals=self._principals
        )
        return [d.key for d in documents]

    def complete_document_uris(self, value: str, limit: int) -> list[str]:
        """Document resource uris: by uri prefix, or by text in a document's key or title."""
        catalog = self._service._index.catalog
        visible = self.sources if self.access.limited else None
        prefix = doc_id_prefix_of_uri(value)
        if prefix is not None:
            # A percent-encoded key can sort differently from its uri: over-fetch, then keep matches.
            documents = catalog.list_documents(sources=visible, limit=limit * 5, prefix=prefix, principals=self._principals)
            uris = [document_uri(d.source, d.key) for d in documents]
            return [uri for uri in uris if uri.startswith(value)][:limit]
        found = catalog.list_documents(sources=visible, contains=value, limit=limit, principals=self._principals)
        return [document_uri(d.source, d.key) for d in found]

    # --- sources and status -------------------------------------------------------------------

    def list_sources(self) -> SourceList:
        """Sources this caller may see, with document counts and sync state."""
        catalog = self._service._index.catalog
        counts = catalog.counts(self._principals)
        languages = catalog.source_languages()
        infos = []
        for source in self._service._config.sources:
            if not self.may_see_source(source.name):
                continue
            state = catalog.source_state(source.name)
            documents, chunks = counts.get(source.name, (0, 0))
            infos.append(
                SourceInfo(
                    name=source.name,
                    type=source.type,
                    description=connector_type(source.type).description,
                    documents=documents,
                    chunks=chunks,
                    last_sync=datetime.fromtimestamp(state.last_sync, tz=UTC) if state.last_sync else None,
                    last_error=state.last_error,
                    failures=catalog.failures(source.name),
                    languages=languages.get(source.name, []),
                    **filterable(*catalog.metadata_values(source.name, self._principals)),
                )
            )
        for unavailable in self._service._config.unavailable_sources:
            if self.access.can_see(unavailable.name):
                documents, chunks = counts.get(unavailable.name, (0, 0))
                infos.append(
                    SourceInfo(
                        name=unavailable.name, type=unavailable.type, description=connector_type(unavailable.type).description,
                        documents=documents, chunks=chunks, last_sync=None, last_error=None, disabled=unavailable.reason,
                    )
                )
        return SourceList(sources=infos)

    def health(self) -> Health | None:
        """What is wrong now (config, sources, storage, an empty index), as this caller may hear it."""
        monitor = self._service._health
        return monitor.current.visible_to(self.access) if monitor is not None else None

    def status(self) -> IndexStatus:
        """The index status, counting only the sources this caller may see."""
        live = self._service._live
        activity = live.status()
        sources = [SourceStatus(**info.model_dump(), sync=live.activity(info.name)) for info in self.list_sources().sources]
        health = self.health()
        return IndexStatus(
            problems=health.problems if health is not None else [],
            log_file=health.log_file if health is not None else None,
            embedding_model=self._service._index.catalog.get_meta("embedding_model"),
            documents=sum(s.documents for s in sources),
            chunks=sum(s.chunks for s in sources),
            live_sync=activity.enabled,
            writer=activity.writer,
            sources=sources,
        )

    # --- re-indexing --------------------------------------------------------------------------

    def reindex(
        self, sources: list[str] | None = None, *, full: bool = False, progress: Progress | None = None
    ) -> IndexSummary:
        """Sync some sources (default: every one this caller may see) now, after any sync in progress."""
        return self._service._live.sync_now(self._selected(sources), full=full, progress=progress)

    # --- databases ----------------------------------------------------------------------------

    def database_sources(self, *, queries: bool = False) -> list[str]:
        """Database sources this caller may use (``queries``: only those that allow `sql_query`)."""
        databases = self._service._databases
        names = databases.query_sources if queries else list(databases.sources)
        return [name for name in names if self.may_see_source(name)]

    def _database(self, source: str) -> str:
        if source not in self.database_sources():
            allowed = ", ".join(self.database_sources()) or "none"
            raise NotFoundError(f"unknown database source {source!r}; database sources you can use: {allowed}")
        return source

    def _may_read_table(self, source: str, table: str) -> bool:
        """True when the table's `allow` (else the source's `allow`) admits this caller."""
        if self._principals is None:
            return True
        from orgkb.connectors.sql.table_access import table_allow

        databases = self._service._databases
        allowed = table_allow(databases.table_rules(source), table)
        if allowed is None:
            source_allow = databases.sources[source].allow
            allowed = frozenset(source_allow) if source_allow is not None else None
        return allowed is None or self.access.allows(allowed)

    def _check_table(self, source: str, table: str) -> None:
        """A table this caller may not read is answered like one that does not exist."""
        if not self._may_read_table(source, table):
            raise NotFoundError(f"{source}: no table or view {table!r} you may read (see list_tables)")

    def _query_refusal(self, source: str, sql: str) -> str | None:
        """Why this caller may not run ``sql`` on ``source`` (None: it may), from the tables it reads."""
        if self._principals is None:
            return None
        from orgkb.connectors.sql.table_access import rules_for

        databases = self._service._databases
        for table in databases.tables_read(source, sql):
            if not self._may_read_table(source, table):
                return f"{source}: query refused: you may not read table {table!r}"
            row_level = [r for r in rules_for(databases.table_rules(source), table) if r.row_groups_column]
            if row_level:
                return (
                    f"{source}: query refused: table {table!r} has row-level permissions (column "
                    f"{row_level[0].row_groups_column!r}) and orgkb does not filter the rows of free SQL; "
                    "only admins may query it: use search or fetch to read the rows you may see"
                )
        return None

    def list_tables(self, source: str) -> TableList:
        """Tables and views of a database source that this caller may read."""
        listing = self._service._databases.list_tables(self._database(source))
        tables = [t for t in listing.tables if self._may_read_table(source, t.name)]
        return listing.model_copy(update={"tables": tables})

    def describe_table(self, source: str, table: str) -> DescribedTable:
        """One table's columns, keys, comments and size."""
        self._check_table(self._database(source), table)
        return self._service._databases.describe_table(source, table)

    def query(self, source: str, sql: str, limit: int | None = None) -> QueryResult:
        """One read-only SQL query's rows, if every table it reads is one this caller may query."""
        refusal = self._query_refusal(self._database(source), sql)
        if refusal is not None:
            raise SqlToolError(refusal)
        return self._service._databases.query(source, sql, limit)

    def schema_text(self, source: str, table: str | None = None) -> str:
        """A table's description, or the source's table listing, as text (schema resources)."""
        self._database(source)
        if table is not None:
            self._check_table(source, table)
            return self._service._databases.schema_text(source, table)
        listing = self.list_tables(source)
        lines = [f"Tables of {source} ({listing.database}); read orgkb://schema/{source}/<table> for columns:"]
        for summary in listing.tables:
            lines.append(f"- {summary.name} ({summary.kind})" + (f": {summary.comment}" if summary.comment else ""))
        return "\n".join(lines)
