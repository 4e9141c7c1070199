"""The two first-stage retrievers: nearest vectors in Chroma and BM25 over the FTS5 tables.

Each applies the search filters inside its own index (a Chroma ``where``, SQL conditions), so
the best *matching* candidates come back however many others would score higher.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from orgkb.server.store import bm25
from orgkb.server.store.filters import SearchFilters
from orgkb.server.search.fusion import Ranking, max_per_document
from orgkb.server.index.knowledge import KnowledgeIndex
from orgkb.server.language.analysis import query_terms


class Retrieved(NamedTuple):
    """One retriever's ranking and the document of each chunk it returned."""

    ranking: Ranking
    doc_of: dict[str, str]


def fts_query(text: str, languages: Iterable[str] = ()) -> str | None:
    """A safe FTS5 query: each term quoted, any term may match (BM25 ranks by how many do).

    The query is analysed like the stored text (`server.language.analysis`), once for each of
    ``languages`` (the languages the index holds; English when none), and the variants ORed.
    """
    terms = query_terms(text, languages)
    if not terms:
        return None
    return " OR ".join(f'"{t}"' for t in terms)


def semantic(
    index: KnowledgeIndex, query: str, pool: int, filters: SearchFilters, prefix_ids: list[str] | None
) -> Retrieved:
    """The ``pool`` nearest chunks; each document scores its best chunk's cosine similarity."""
    index.open()
    vector = index.embedder.embed_query(query)
    nearest = index.store.query(vector, pool, filters.to_chroma(prefix_ids))
    # Document ids come from the catalog (cheaper than Chroma metadata); a vector it lacks is stale.
    doc_of = bm25.documents_of_chunks(index.catalog, [chunk_id for chunk_id, _ in nearest])
    hits = [(chunk_id, doc_of[chunk_id], score) for chunk_id, score in nearest if chunk_id in doc_of]
    return Retrieved(max_per_document(hits), doc_of)


def keyword(
    index: KnowledgeIndex, query: str, pool: int, filters: SearchFilters, prefix_ids: list[str] | None
) -> Retrieved:
    """BM25: documents scored over their whole text, chunks over their own (for passages)."""
    match = fts_query(query, index.catalog.languages())
    if match is None:
        return Retrieved(Ranking({}, {}), {})
    documents = bm25.best_documents(index.catalog, match, pool, filters, prefix_ids)
    chunks = bm25.best_chunks(index.catalog, match, pool, filters, prefix_ids)
    ranking = Ranking(documents, {chunk_id: score for chunk_id, _, score in chunks})
    return Retrieved(ranking, {chunk_id: doc_id for chunk_id, doc_id, _ in chunks})


def best_chunks(index: KnowledgeIndex, query: str, doc_ids: Sequence[str]) -> list[tuple[str, str]]:
    """``(chunk_id, doc_id)`` best first for documents ranked without a chunk of their own.

    A document can rank on its whole text while none of its chunks made a candidate list; its
    passage is then its best BM25 chunk, or its first chunk when no single chunk matches.
    """
    return bm25.chunks_of_documents(index.catalog, fts_query(query, index.catalog.languages()), doc_ids)
