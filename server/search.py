"""Retrieval: semantic (vectors), keyword (BM25) or hybrid (both, fused), shaped into cited hits.

This is the one search function behind the MCP `search` tool, `orgkb search` and `orgkb eval`,
so the benchmark measures exactly what users get.

A query runs in four steps:

1. **Candidates**: each index returns its best chunks, with the filters applied *inside* it (a
   Chroma ``where`` and SQL over the FTS5 table), so a filter matching few documents still
   finds them however many other chunks score higher.
2. **Fusion** (`server.fusion`): documents are ranked by their best chunk in each index, and
   the two rankings combined; every chunk also gets a fused score of its own.
3. **Reranking** (optional, `server.rerank`): a cross-encoder rescores the first passages.
4. **Shaping** (`server.passages`): at most N chunks per document, adjacent chunks of one
   section merged into one passage, hits of one document kept together, a score floor.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Literal

from pydantic import BaseModel, Field

from server.catalog import StoredChunk
from server.filters import SearchFilters
from server.fusion import Candidate, fuse, single
from server.knowledge import KnowledgeIndex
from server.passages import RESOURCE_SCHEME, Entry, SearchHit, assemble_hits, candidate_entries, passage_text, rank_entries, resource_uri
from server.rerank import Reranker, RerankerUnavailable, create_reranker

__all__ = ["RESOURCE_SCHEME", "SearchHit", "SearchMode", "SearchResponse", "Searcher", "fts_query", "resource_uri"]

log = logging.getLogger(__name__)

SearchMode = Literal["hybrid", "semantic", "keyword"]
# bm25() weights of the FTS columns (title, heading path, body): words in titles and headings count more.
FTS_WEIGHTS = (2.0, 1.5, 1.0)
_TOKEN = re.compile(r"\w+", re.UNICODE)
# Words in nearly every chunk add almost nothing to BM25 but make FTS5 score every row: left out.
_STOPWORDS = frozenset(
    "a an and are as at be by for from has have in is it its of on or that the their this to was were with".split()
)


class SearchResponse(BaseModel):
    """Hits plus what was asked, so a client can tell an empty index from no matches."""

    query: str
    mode: SearchMode
    hits: list[SearchHit]
    took_ms: float
    reranked_by: str | None = Field(default=None, description="The cross-encoder that ordered the first hits, if any.")
    notices: list[str] = Field(default_factory=list, description="Why something configured did not apply.")


def fts_query(text: str) -> str | None:
    """A safe FTS5 query: each word quoted, any word may match (BM25 ranks by how many do)."""
    words = [w for w in _TOKEN.findall(text.lower()) if len(w) > 1 or w.isdigit()]
    content = [w for w in words if w not in _STOPWORDS] or words
    if not content:
        return None
    return " OR ".join(f'"{w}"' for w in dict.fromkeys(content))


class Searcher:
    """Runs queries against a `KnowledgeIndex`."""

    def __init__(self, index: KnowledgeIndex, reranker: Reranker | None = None) -> None:
        self.index = index
        settings = index.config.search
        self.reranker = reranker or create_reranker(settings.rerank_model, settings.rerank_device)
        self._rerank_error: str | None = None
        self._rerank_lock = threading.Lock()

    def search(
        self,
        query: str,
        *,
        limit: int | None = None,
        mode: SearchMode = "hybrid",
        filters: SearchFilters | None = None,
        max_chunks_per_document: int | None = None,
        min_score: float | None = None,
        rerank: bool = True,
    ) -> SearchResponse:
        """The best passages for ``query``, grouped by document, best document first.

        ``rerank=False`` skips a configured reranker for this query (the benchmark's baseline).
        """
        started = time.perf_counter()
        settings = self.index.config.search
        limit = max(1, min(limit or settings.default_limit, settings.max_limit))
        per_doc = max_chunks_per_document or settings.max_chunks_per_document
        floor = settings.min_score if min_score is None else min_score
        filters = filters or SearchFilters()
        prefix_ids = filters.doc_ids_for_prefix(self.index.catalog)
        notices: list[str] = []
        if prefix_ids is not None and not prefix_ids:
            return SearchResponse(query=query, mode=mode, hits=[], took_ms=_ms(started))
        pool = max(settings.candidates, 3 * limit)
        lists = self._candidates(query, mode, pool, filters, prefix_ids)
        doc_of = {c.chunk_id: c.doc_id for candidates in lists for c in candidates}
        if mode == "hybrid":
            weights = [settings.semantic_weight, 1.0 - settings.semantic_weight]
            fused = fuse(lists, weights, settings.fusion, settings.rrf_k)
        else:
            fused = single(lists[0])
        reranking = self.reranker is not None and rerank
        depth = max(limit, settings.rerank_candidates if reranking else 0) + 10
        candidates = candidate_entries(fused, doc_of.get, depth, per_doc)
        chunks = self.index.catalog.get_chunks([c[0] for c in candidates])
        # A chunk missing from the catalog is a stale vector of a document being replaced right now.
        entries = rank_entries([c for c in candidates if c[0] in chunks], floor)
        reranked_by = None
        if reranking:
            reranked_by = self._rerank(query, entries, chunks, settings.rerank_candidates, notices)
        hits = assemble_hits(entries, chunks, limit, per_doc, merge=settings.merge_neighbours)
        return SearchResponse(
            query=query, mode=mode, hits=hits, took_ms=_ms(started), reranked_by=reranked_by, notices=notices
        )

    # --- candidates -----------------------------------------------------------------------

    def _candidates(
        self, query: str, mode: SearchMode, pool: int, filters: SearchFilters, prefix_ids: list[str] | None
    ) -> list[list[Candidate]]:
        """The chunk lists to fuse: [vectors], [BM25] or both, each already filtered."""
        if mode == "semantic":
            return [self._semantic(query, pool, filters, prefix_ids)]
        if mode == "keyword":
            return [self._keyword(query, pool, filters, prefix_ids)]
        return [self._semantic(query, pool, filters, prefix_ids), self._keyword(query, pool, filters, prefix_ids)]

    def _semantic(
        self, query: str, pool: int, filters: SearchFilters, prefix_ids: list[str] | None
    ) -> list[Candidate]:
        self.index.open()
        vector = self.index.embedder.embed_query(query)
        nearest = self.index.store.query(vector, pool, filters.to_chroma(prefix_ids))
        # Document ids from the catalog (faster than Chroma metadata); a vector it lacks is stale, left out.
        doc_of: dict[str, str] = {}
        ids = [chunk_id for chunk_id, _ in nearest]
        for start in range(0, len(ids), 500):
            batch = ids[start : start + 500]
            rows = self.index.catalog.query(
                f"SELECT chunk_id, doc_id FROM chunks WHERE chunk_id IN ({','.join('?' * len(batch))})", batch
            )
            doc_of.update((row["chunk_id"], row["doc_id"]) for row in rows)
        return [Candidate(chunk_id, doc_of[chunk_id], score) for chunk_id, score in nearest if chunk_id in doc_of]

    def _keyword(
        self, query: str, pool: int, filters: SearchFilters, prefix_ids: list[str] | None
    ) -> list[Candidate]:
        match = fts_query(query)
        if match is None:
            return []
        condition, params = filters.to_sql(prefix_ids)
        weights = ", ".join(str(w) for w in FTS_WEIGHTS)
        join = " JOIN documents d ON d.doc_id = c.doc_id" if params else ""
        # bm25() is lower-is-better, so it is negated into a higher-is-better score.
        rows = self.index.catalog.query(
            f"SELECT c.chunk_id, c.doc_id, -bm25(chunks_fts, {weights}) AS score FROM chunks_fts"
            f" JOIN chunks c ON c.rowid = chunks_fts.rowid{join}"
            f" WHERE chunks_fts MATCH ? AND {condition} ORDER BY score DESC LIMIT ?",
            [match, *params, pool],
        )
        return [Candidate(row["chunk_id"], row["doc_id"], float(row["score"])) for row in rows]

    # --- reranking --------------------------------------------------------------------------

    def _rerank(
        self, query: str, entries: list[Entry], chunks: dict[str, StoredChunk], count: int, notices: list[str]
    ) -> str | None:
        """Reorder the first ``count`` entries by the cross-encoder; None (and a notice) if it is unavailable."""
        assert self.reranker is not None
        if self._rerank_error is not None:
            notices.append(self._rerank_error)
            return None
        head = entries[:count]
        texts = [passage_text(chunks[e.chunk_id]) for e in head]
        try:
            scores = self.reranker.score(query, texts)
        except RerankerUnavailable as exc:
            with self._rerank_lock:
                if self._rerank_error is None:
                    self._rerank_error = f"reranking is off: {exc}"
                    log.warning("%s", self._rerank_error)
            notices.append(self._rerank_error)
            return None
        for entry, score in zip(head, scores, strict=True):
            entry.rerank_score = score
        entries[: len(head)] = sorted(head, key=lambda e: -(e.rerank_score or 0.0))
        return self.reranker.model_id


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
