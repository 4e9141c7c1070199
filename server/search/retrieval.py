"""The two first-stage retrievers: nearest vectors in Chroma and BM25 over the FTS5 tables.

Each applies the search filters inside its own index (a Chroma ``where``, SQL conditions), so
the best *matching* candidates come back however many others would score higher.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from orgkb.server.search.filters import SearchFilters
from orgkb.server.search.fusion import Ranking, max_per_document
from orgkb.server.index.knowledge import KnowledgeIndex
from orgkb.server.language.analysis import query_terms

# bm25() weights of the FTS columns: words in titles and headings count more than body words.
CHUNK_FTS_WEIGHTS = "2.0, 1.5, 1.0"  # title, heading path, body
DOCUMENT_FTS_WEIGHTS = "2.0, 1.0"  # title, whole text


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
    doc_of = _documents_of(index, [chunk_id for chunk_id, _ in nearest])
    hits = [(chunk_id, doc_of[chunk_id], score) for chunk_id, score in nearest if chunk_id in doc_of]
    return Retrieved(max_per_document(hits), doc_of)


def keyword(
    index: KnowledgeIndex, query: str, pool: int, filters: SearchFilters, prefix_ids: list[str] | None
) -> Retrieved:
    """BM25: documents scored over their whole text, chunks over their own (for passages)."""
    match = fts_query(query, index.catalog.languages())
    if match is None:
        return Retrieved(Ranking({}, {}), {})
    condition, params = filters.to_sql(prefix_ids)
    documents = index.catalog.query(*_bm25_sql("documents_fts", "d.doc_id", condition, params, pool, match))
    chunks = index.catalog.query(*_bm25_sql("chunks_fts", "c.chunk_id, c.doc_id", condition, params, pool, match))
    ranking = Ranking(
        {row["doc_id"]: float(row["score"]) for row in documents},
        {row["chunk_id"]: float(row["score"]) for row in chunks},
    )
    return Retrieved(ranking, {row["chunk_id"]: row["doc_id"] for row in chunks})


def _bm25_sql(
    table: str, columns: str, condition: str, params: list[object], pool: int, match: str
) -> tuple[str, list[object]]:
    """The best ``pool`` rows of ``documents_fts`` or ``chunks_fts`` by BM25, filtered before the cut."""
    by_document = table == "documents_fts"
    # bm25() is lower-is-better, so it is negated into a higher-is-better score.
    rank = f"bm25({table}, {DOCUMENT_FTS_WEIGHTS if by_document else CHUNK_FTS_WEIGHTS})"
    owner, alias = ("documents", "d") if by_document else ("chunks", "c")
    if not params:
        # Unfiltered, FTS5 picks the best rows itself and only those are joined: ~30% faster.
        return (
            f"SELECT {columns}, f.score FROM (SELECT rowid, -{rank} AS score FROM {table}"
            f" WHERE {table} MATCH ? ORDER BY {rank} LIMIT ?) f JOIN {owner} {alias} ON {alias}.rowid = f.rowid",
            [match, pool],
        )
    documents_join = "" if by_document else " JOIN documents d ON d.doc_id = c.doc_id"
    return (
        f"SELECT {columns}, -{rank} AS score FROM {table} JOIN {owner} {alias} ON {alias}.rowid = {table}.rowid"
        f"{documents_join} WHERE {table} MATCH ? AND {condition} ORDER BY score DESC LIMIT ?",
        [match, *params, pool],
    )


def best_chunks(index: KnowledgeIndex, query: str, doc_ids: Sequence[str]) -> list[tuple[str, str]]:
    """``(chunk_id, doc_id)`` best first for documents ranked without a chunk of their own.

    A document can rank on its whole text while none of its chunks made a candidate list; its
    passage is then its best BM25 chunk, or its first chunk when no single chunk matches.
    """
    if not doc_ids:
        return []
    marks = ",".join("?" * len(doc_ids))
    found: list[tuple[str, str]] = []
    match = fts_query(query, index.catalog.languages())
    if match is not None:
        rows = index.catalog.query(
            f"SELECT c.chunk_id, c.doc_id FROM chunks_fts JOIN chunks c ON c.rowid = chunks_fts.rowid"
            f" WHERE chunks_fts MATCH ? AND c.doc_id IN ({marks}) ORDER BY bm25(chunks_fts, {CHUNK_FTS_WEIGHTS})",
            [match, *doc_ids],
        )
        found = [(row["chunk_id"], row["doc_id"]) for row in rows]
    covered = {doc for _, doc in found}
    rest = [doc for doc in doc_ids if doc not in covered]
    if rest:
        rows = index.catalog.query(
            f"SELECT chunk_id, doc_id FROM chunks WHERE ordinal = 0 AND doc_id IN ({','.join('?' * len(rest))})", rest
        )
        found.extend((row["chunk_id"], row["doc_id"]) for row in rows)
    return found


def _documents_of(index: KnowledgeIndex, chunk_ids: list[str]) -> dict[str, str]:
    doc_of: dict[str, str] = {}
    for start in range(0, len(chunk_ids), 500):
        batch = chunk_ids[start : start + 500]
        rows = index.catalog.query(
            f"SELECT chunk_id, doc_id FROM chunks WHERE chunk_id IN ({','.join('?' * len(batch))})", batch
        )
        doc_of.update((row["chunk_id"], row["doc_id"]) for row in rows)
    return doc_of
