"""BM25 over the catalog's FTS5 tables: the lexical index's queries, all in the store package.

Every condition of the search filters applies inside the query, before the top-k cut, so the
best *matching* rows come back however many others would score higher.
"""

from __future__ import annotations

from collections.abc import Sequence

from orgkb.server.store.catalog import Catalog
from orgkb.server.store.filters import SearchFilters

# bm25() weights of the FTS columns: words in titles and headings count more than body words.
CHUNK_FTS_WEIGHTS = "2.0, 1.5, 1.0"  # title, heading path, body
DOCUMENT_FTS_WEIGHTS = "2.0, 1.0"  # title, whole text


def best_documents(
    catalog: Catalog, match: str, pool: int, filters: SearchFilters, prefix_ids: list[str] | None
) -> dict[str, float]:
    """``doc_id -> score`` of the ``pool`` best documents for an FTS5 ``match``, scored over their whole text."""
    condition, params = filters.to_sql(prefix_ids)
    rows = catalog.query(*_bm25_sql("documents_fts", "d.doc_id", condition, params, pool, match))
    return {row["doc_id"]: float(row["score"]) for row in rows}


def best_chunks(
    catalog: Catalog, match: str, pool: int, filters: SearchFilters, prefix_ids: list[str] | None
) -> list[tuple[str, str, float]]:
    """``(chunk_id, doc_id, score)`` of the ``pool`` best chunks for an FTS5 ``match``."""
    condition, params = filters.to_sql(prefix_ids)
    rows = catalog.query(*_bm25_sql("chunks_fts", "c.chunk_id, c.doc_id", condition, params, pool, match))
    return [(row["chunk_id"], row["doc_id"], float(row["score"])) for row in rows]


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


def chunks_of_documents(catalog: Catalog, match: str | None, doc_ids: Sequence[str]) -> list[tuple[str, str]]:
    """``(chunk_id, doc_id)``, best first: each document's chunks matching ``match`` by BM25, then the
    first chunk of each document none of whose chunks matches."""
    if not doc_ids:
        return []
    found: list[tuple[str, str]] = []
    if match is not None:
        rows = catalog.query(
            f"SELECT c.chunk_id, c.doc_id FROM chunks_fts JOIN chunks c ON c.rowid = chunks_fts.rowid"
            f" WHERE chunks_fts MATCH ? AND c.doc_id IN ({','.join('?' * len(doc_ids))})"
            f" ORDER BY bm25(chunks_fts, {CHUNK_FTS_WEIGHTS})",
            [match, *doc_ids],
        )
        found = [(row["chunk_id"], row["doc_id"]) for row in rows]
    covered = {doc for _, doc in found}
    rest = [doc for doc in doc_ids if doc not in covered]
    if rest:
        rows = catalog.query(
            f"SELECT chunk_id, doc_id FROM chunks WHERE ordinal = 0 AND doc_id IN ({','.join('?' * len(rest))})", rest
        )
        found.extend((row["chunk_id"], row["doc_id"]) for row in rows)
    return found


def documents_of_chunks(catalog: Catalog, chunk_ids: list[str]) -> dict[str, str]:
    """``chunk_id -> doc_id`` of the current chunks among ``chunk_ids`` (a stale vector's id is absent)."""
    doc_of: dict[str, str] = {}
    for start in range(0, len(chunk_ids), 500):
        batch = chunk_ids[start : start + 500]
        rows = catalog.query(f"SELECT chunk_id, doc_id FROM chunks WHERE chunk_id IN ({','.join('?' * len(batch))})", batch)
        doc_of.update((row["chunk_id"], row["doc_id"]) for row in rows)
    return doc_of
