"""Helpers for acceptance tests that index a source and search it through the real stack."""

from __future__ import annotations

from typing import Any

from orgkb.server.app.access import Access
from orgkb.server.index.indexer import IndexSummary, SourceSummary
from orgkb.server.index.knowledge import KnowledgeIndex
from orgkb.server.search.searcher import SearchHit, Searcher
from orgkb.server.store.filters import SearchFilters


def hits_for(index: KnowledgeIndex, query: str, **options: Any) -> list[SearchHit]:
    """The top five hits for ``query`` (hybrid unless ``mode=`` says otherwise)."""
    return Searcher(index).search(query, limit=5, **options).hits


def indexed_keys(index: KnowledgeIndex, source: str) -> set[str]:
    """The keys of the documents the index holds for ``source``."""
    return set(index.catalog.document_states(source))


def only(summary: IndexSummary) -> SourceSummary:
    """The summary of a run over exactly one source."""
    (source,) = summary.sources
    return source


def sync_state(index: KnowledgeIndex, source: str) -> tuple[dict[str, tuple[str | None, str]], str | None]:
    """What a failed sync must leave alone: every document's version and hash, and the cursor."""
    return index.catalog.document_states(source), index.catalog.source_state(source).cursor


def visible_ids(index: KnowledgeIndex, access: Access, query: str, mode: str = "hybrid", limit: int = 50) -> set[str]:
    """The documents a search for ``query`` shows ``access`` (permissions filtered inside the index)."""
    filters = SearchFilters(principals=access.principal_names)
    response = Searcher(index).search(query, limit=limit, mode=mode, filters=filters, max_chunks_per_document=1)  # type: ignore[arg-type]
    return {h.doc_id for h in response.hits}
