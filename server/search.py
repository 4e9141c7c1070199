"""Retrieval: semantic (vectors), keyword (BM25) or hybrid (both, fused), shaped into cited hits.

This is the one search function behind the MCP `search` tool, `orgkb search` and `orgkb eval`,
so the benchmark measures exactly what users get.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import quote

from pydantic import BaseModel, Field

from connectors.base import Location
from server.catalog import StoredChunk
from server.chunking import context_line
from server.filters import SearchFilters
from server.knowledge import KnowledgeIndex

SearchMode = Literal["hybrid", "semantic", "keyword"]
RESOURCE_SCHEME = "orgkb"
RRF_K = 60
_TOKEN = re.compile(r"\w+", re.UNICODE)


class SearchHit(BaseModel):
    """One cited passage."""

    score: float = Field(description="Relevance; higher is better (cosine similarity, BM25, or fused 0..1).")
    text: str
    title: str
    uri: str = Field(description="Where a person opens the original, with a #section anchor where known.")
    resource_uri: str = Field(description="orgkb:// uri to read the whole indexed document (resources/read, fetch).")
    source: str
    doc_id: str
    chunk_id: str
    heading_path: list[str] = Field(default_factory=list)
    location: Location = Field(default_factory=Location)
    modified: datetime | None = None
    file_type: str = ""

    @property
    def label(self) -> str:
        """``Title › Heading › Subheading``."""
        return context_line(self.title, self.heading_path).replace(" > ", " › ")

    @property
    def citation(self) -> str:
        """A one-line reference: ``Title › Heading (lines 3-9) <uri>``."""
        where = self.location.label()
        return f"{self.label}{f' ({where})' if where else ''} <{self.uri}>"


class SearchResponse(BaseModel):
    """Hits plus what was asked, so a client can tell an empty index from no matches."""

    query: str
    mode: SearchMode
    hits: list[SearchHit]
    took_ms: float


def resource_uri(source: str, key: str) -> str:
    """The MCP resource uri of a document."""
    return f"{RESOURCE_SCHEME}://documents/{quote(source, safe='')}/{quote(key, safe='/')}"


def fts_query(text: str) -> str | None:
    """A safe FTS5 query: each word quoted, any word may match (BM25 ranks by how many do)."""
    words = [w for w in _TOKEN.findall(text.lower()) if len(w) > 1 or w.isdigit()]
    if not words:
        return None
    unique = list(dict.fromkeys(words))
    return " OR ".join(f'"{w}"' for w in unique)


class Searcher:
    """Runs queries against a `KnowledgeIndex`."""

    def __init__(self, index: KnowledgeIndex) -> None:
        self.index = index

    def search(
        self,
        query: str,
        *,
        limit: int | None = None,
        mode: SearchMode = "hybrid",
        filters: SearchFilters | None = None,
        max_chunks_per_document: int | None = None,
        min_score: float | None = None,
    ) -> SearchResponse:
        """The best passages for ``query``; at most ``max_chunks_per_document`` from each document."""
        started = time.perf_counter()
        settings = self.index.config.search
        limit = max(1, min(limit or settings.default_limit, settings.max_limit))
        per_doc = max_chunks_per_document or settings.max_chunks_per_document
        floor = settings.min_score if min_score is None else min_score
        filters = filters or SearchFilters()
        prefix_ids = filters.doc_ids_for_prefix(self.index.catalog)
        if prefix_ids is not None and not prefix_ids:
            return SearchResponse(query=query, mode=mode, hits=[], took_ms=_ms(started))
        pool = max(100, limit * per_doc * 4)
        ranked: list[tuple[str, float]]
        if mode == "semantic":
            ranked = self._semantic(query, pool, filters, prefix_ids)
        elif mode == "keyword":
            ranked = self._keyword(query, pool, filters, prefix_ids)
        else:
            ranked = fuse_rrf(
                [self._semantic(query, pool, filters, prefix_ids), self._keyword(query, pool, filters, prefix_ids)]
            )
        hits = self._shape(ranked, limit, per_doc, floor)
        return SearchResponse(query=query, mode=mode, hits=hits, took_ms=_ms(started))

    def _semantic(
        self, query: str, pool: int, filters: SearchFilters, prefix_ids: list[str] | None
    ) -> list[tuple[str, float]]:
        self.index.open()
        vector = self.index.embedder.embed_query(query)
        return self.index.store.query(vector, pool, filters.to_chroma(prefix_ids))

    def _keyword(
        self, query: str, pool: int, filters: SearchFilters, prefix_ids: list[str] | None
    ) -> list[tuple[str, float]]:
        match = fts_query(query)
        if match is None:
            return []
        condition, params = filters.to_sql(prefix_ids)
        # bm25() is lower-is-better; weights favour words in titles and headings.
        rows = self.index.catalog.query(
            "SELECT c.chunk_id, -bm25(chunks_fts, 2.0, 1.5, 1.0) AS score FROM chunks_fts"
            " JOIN chunks c ON c.rowid = chunks_fts.rowid JOIN documents d ON d.doc_id = c.doc_id"
            f" WHERE chunks_fts MATCH ? AND {condition} ORDER BY bm25(chunks_fts, 2.0, 1.5, 1.0) LIMIT ?",
            [match, *params, pool],
        )
        return [(row["chunk_id"], float(row["score"])) for row in rows]

    def _shape(self, ranked: list[tuple[str, float]], limit: int, per_doc: int, floor: float) -> list[SearchHit]:
        chunks = self.index.catalog.get_chunks([chunk_id for chunk_id, _ in ranked])
        per_document: dict[str, int] = {}
        hits: list[SearchHit] = []
        for chunk_id, score in ranked:
            chunk = chunks.get(chunk_id)
            if chunk is None or score < floor:
                continue  # a stale vector from a document being replaced right now
            if per_document.get(chunk.doc_id, 0) >= per_doc:
                continue
            per_document[chunk.doc_id] = per_document.get(chunk.doc_id, 0) + 1
            hits.append(hit_from_chunk(chunk, score))
            if len(hits) >= limit:
                break
        return hits


def fuse_rrf(rankings: list[list[tuple[str, float]]], k: int = RRF_K) -> list[tuple[str, float]]:
    """Reciprocal rank fusion, scaled so a first place in every ranking scores 1.0."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, (item, _) in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    best = len(rankings) / (k + 1)
    return sorted(((item, score / best) for item, score in scores.items()), key=lambda p: -p[1])


def hit_from_chunk(chunk: StoredChunk, score: float) -> SearchHit:
    """A `SearchHit` for a stored chunk."""
    uri = chunk.uri
    if chunk.anchor and "#" not in uri:
        uri = f"{uri}#{chunk.anchor}"
    return SearchHit(
        score=round(score, 6),
        text=chunk.text,
        title=chunk.title,
        uri=uri,
        resource_uri=resource_uri(chunk.source, chunk.key),
        source=chunk.source,
        doc_id=chunk.doc_id,
        chunk_id=chunk.chunk_id,
        heading_path=chunk.heading_path,
        location=chunk.location,
        modified=datetime.fromtimestamp(chunk.modified, tz=UTC) if chunk.modified is not None else None,
        file_type=chunk.file_type,
    )


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
