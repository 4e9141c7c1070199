"""Retrieval: semantic (vectors), keyword (BM25) or hybrid (both, fused), shaped into cited hits.

This is the one search function behind the MCP `search` tool, `orgkb search` and `orgkb eval`,
so the benchmark measures exactly what users get.

A query runs in four steps:

1. **Candidates** (`server.retrieval`): the vector index returns its nearest chunks, the FTS5
   tables the best documents and chunks by BM25, each with the filters applied *inside* it,
   so a filter matching few documents still finds them however many others score higher.
2. **Fusion** (`server.fusion`): each index's document ranking is standardised and the two
   averaged; every chunk also gets a fused score of its own, for choosing passages.
3. **Reranking** (optional, `server.rerank`): a cross-encoder rescores the first passages.
4. **Shaping** (`server.passages`): at most N chunks per document, adjacent chunks of one
   section merged into one passage, best score first, a score floor.
5. **Relevance** (`server.search.relevance`): every hit gets a calibrated relevance; below the
   floor hits are dropped, and a query with none above it says so ("no_good_match").
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

from pydantic import BaseModel, Field

from orgkb.server.search import retrieval
from orgkb.server.store.catalog import StoredChunk
from orgkb.server.store.filters import SearchFilters
from orgkb.server.search.fusion import Fused, fuse, single
from orgkb.server.index.knowledge import KnowledgeIndex
from orgkb.server.search.passages import (
    Entry,
    SearchHit,
    assemble_hits,
    candidate_entries,
    passage_text,
    rank_entries,
)
from orgkb.server.embedding.languages import model_languages
from orgkb.server.embedding.reranker import Reranker, RerankerUnavailable, create_reranker
from orgkb.server.language.detection import detect
from orgkb.server.search.relevance import QuerySignals, query_signals, relevance
from orgkb.server.search.retrieval import fts_query

__all__ = ["SearchHit", "SearchMode", "SearchResponse", "Searcher", "fts_query"]

log = logging.getLogger(__name__)

# How sure the query's language must be (among the index's languages) to change the fusion.
QUERY_LANGUAGE_CONFIDENCE = 0.7

SearchMode = Literal["hybrid", "semantic", "keyword"]
SearchOutcome = Literal["results", "no_good_match"]


class SearchResponse(BaseModel):
    """Hits plus what was asked, so a client can tell an empty index from no matches."""

    query: str
    mode: SearchMode
    hits: list[SearchHit]
    took_ms: float
    reranked_by: str | None = Field(default=None, description="The cross-encoder that ordered the first hits, if any.")
    notices: list[str] = Field(default_factory=list, description="Why something configured did not apply.")
    outcome: SearchOutcome = Field(
        default="results", description='"no_good_match" when no hit reaches the relevance floor (any hits are weak).'
    )
    # What relevance was computed from, for calibration (scripts/calibrate_relevance.py); never serialised.
    signals: QuerySignals | None = Field(default=None, exclude=True)
    # Document scores per index ("cosine", "bm25"), for the same purpose; never serialised.
    evidence: dict[str, dict[str, float]] | None = Field(default=None, exclude=True)


class Searcher:
    """Runs queries against a `KnowledgeIndex`."""

    def __init__(self, index: KnowledgeIndex, reranker: Reranker | None = None) -> None:
        self.index = index
        settings = index.config.search
        self.reranker = reranker or create_reranker(settings.rerank_model, settings.rerank_device)
        self._rerank_error: str | None = None
        self._rerank_lock = threading.Lock()
        # One long-lived thread runs BM25 while the caller embeds the query: hybrid costs about
        # the slower of the two instead of their sum. It keeps its own SQLite connection.
        self._lexical = ThreadPoolExecutor(max_workers=1, thread_name_prefix="orgkb-bm25")

    def prepare(self) -> None:
        """Load the reranker now (at server start), so a model that cannot load is reported at once."""
        if self.reranker is None or self._rerank_error is not None:
            return
        load = getattr(self.reranker, "load", None)
        if load is None:
            return
        try:
            load()
        except RerankerUnavailable as exc:
            self._disable_reranking(exc)

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
        min_relevance: float | None = None,
    ) -> SearchResponse:
        """The best passages for ``query``, best first, each with a calibrated relevance.

        ``rerank=False`` skips a configured reranker for this query (the benchmark's baseline).
        ``min_relevance`` is the relevance floor (front ends pass the config's ``min_relevance``);
        None keeps every hit and never reports "no_good_match".
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
        if mode == "semantic":
            found = [retrieval.semantic(self.index, query, pool, filters, prefix_ids)]
        elif mode == "keyword":
            found = [retrieval.keyword(self.index, query, pool, filters, prefix_ids)]
        else:
            lexical = self._lexical.submit(retrieval.keyword, self.index, query, pool, filters, prefix_ids)
            found = [retrieval.semantic(self.index, query, pool, filters, prefix_ids), lexical.result()]
        semantic_weight = self._semantic_weight(query, mode, notices)
        if len(found) == 1:
            fused = single(found[0].ranking)
        else:
            weights = [semantic_weight, 1.0 - semantic_weight]
            fused = fuse([f.ranking for f in found], weights, settings.fusion, settings.rrf_k)
        reranking = self.reranker is not None and rerank
        depth = max(limit, settings.rerank_candidates if reranking else 0) + 10
        doc_of = {chunk: doc for f in found for chunk, doc in f.doc_of.items()}
        fused = self._with_passages(query, fused, doc_of, depth)
        candidates = candidate_entries(fused, doc_of.get, depth, per_doc)
        chunks = self.index.catalog.get_chunks([c[0] for c in candidates])
        # A chunk missing from the catalog is a stale vector of a document being replaced right now.
        entries = rank_entries([c for c in candidates if c[0] in chunks], floor)
        reranked_by = None
        if self.reranker is not None and rerank:
            reranked_by = self._rerank(self.reranker, query, entries, chunks, settings.rerank_candidates, notices)
        hits = assemble_hits(entries, chunks, limit, per_doc, merge=settings.merge_neighbours)
        terms = query_terms(query)
        signals = _signals(mode, found, terms)
        hits = _with_relevance(mode, hits, signals, terms)
        floor_value = 0.0 if min_relevance is None else min_relevance
        kept = [hit for hit in hits if hit.relevance >= floor_value]
        outcome: SearchOutcome = "results"
        if hits and not kept:
            outcome = "no_good_match"
            kept = [hit.model_copy(update={"weak": True}) for hit in hits[: settings.weak_candidates]]
        return SearchResponse(
            query=query, mode=mode, hits=kept, took_ms=_ms(started), reranked_by=reranked_by, notices=notices,
            outcome=outcome, signals=signals, evidence=_evidence(mode, found),
        )

    def _semantic_weight(self, query: str, mode: SearchMode, notices: list[str]) -> float:
        """The vector index's share in fusion: smaller for a language the model was not trained on."""
        settings = self.index.config.search
        if mode == "keyword":
            return settings.semantic_weight
        model_id = self.index.embedder.model_id
        understood = model_languages(model_id, self.index.config.embedding.languages)
        if understood is None:
            return settings.semantic_weight
        indexed = self.index.catalog.languages()
        if len(indexed) == 1:
            language: str | None = indexed[0]
        else:
            found = detect(query, among=indexed) if indexed else None
            language = found.language if found is not None and found.confidence >= QUERY_LANGUAGE_CONFIDENCE else None
        if language is None or language in understood:
            return settings.semantic_weight
        if mode == "semantic":
            notices.append(
                f"the embedding model {model_id} was not trained on this query's language ({language}): "
                "semantic results may miss; mode \"hybrid\" or \"keyword\" matches its words"
            )
            return settings.semantic_weight
        weight = min(settings.semantic_weight, settings.foreign_semantic_weight)
        notices.append(
            f"the embedding model {model_id} was not trained on this query's language ({language}): "
            f"keyword matching weighs more (semantic weight {weight:g} instead of {settings.semantic_weight:g}); "
            "a multilingual model (embedding.model) fixes this"
        )
        return weight

    def _with_passages(self, query: str, fused: Fused, doc_of: dict[str, str], depth: int) -> Fused:
        """Give every top document a candidate chunk (one ranked on its whole text may have none)."""
        covered = set(doc_of.values())
        missing = [doc for doc, _ in fused.documents[:depth] if doc not in covered]
        if not missing:
            return fused
        extra = retrieval.best_chunks(self.index, query, missing)
        # Below every retrieved chunk, in BM25 order: they only decide which passage such a document shows.
        base = min(fused.chunks.values(), default=0.0) - 1.0
        chunks = dict(fused.chunks)
        for position, (chunk_id, doc_id) in enumerate(extra):
            doc_of[chunk_id] = doc_id
            chunks.setdefault(chunk_id, base - position * 1e-6)
        return Fused(fused.documents, chunks)

    # --- reranking --------------------------------------------------------------------------

    def _rerank(
        self,
        reranker: Reranker,
        query: str,
        entries: list[Entry],
        chunks: dict[str, StoredChunk],
        count: int,
        notices: list[str],
    ) -> str | None:
        """Reorder the first ``count`` entries by the cross-encoder; None (and a notice) if it is unavailable."""
        if self._rerank_error is not None:
            notices.append(self._rerank_error)
            return None
        head = entries[:count]
        texts = [passage_text(chunks[e.chunk_id]) for e in head]
        try:
            scores = reranker.score(query, texts)
        except RerankerUnavailable as exc:
            notices.append(self._disable_reranking(exc))
            return None
        for entry, score in zip(head, scores, strict=True):
            entry.rerank_score = score
        entries[: len(head)] = sorted(head, key=lambda e: -(e.rerank_score or 0.0))
        return reranker.model_id

    def _disable_reranking(self, error: RerankerUnavailable) -> str:
        """Turn reranking off for this process, logging the reason once."""
        with self._rerank_lock:
            if self._rerank_error is None:
                self._rerank_error = f"reranking is off: {error}"
                log.warning("%s", self._rerank_error)
            return self._rerank_error


def _signals(mode: SearchMode, found: list[retrieval.Retrieved], terms: int) -> QuerySignals:
    """The query's absolute signals: the best cosine (vector index) and best BM25 per query term."""
    semantic = found[0].ranking.documents if mode != "keyword" else {}
    lexical = found[-1].ranking.documents if mode != "semantic" else {}
    return query_signals(list(semantic.values()), list(lexical.values()), terms)


def _evidence(mode: SearchMode, found: list[retrieval.Retrieved]) -> dict[str, dict[str, float]]:
    return {
        "cosine": found[0].ranking.documents if mode != "keyword" else {},
        "bm25": found[-1].ranking.documents if mode != "semantic" else {},
    }


def query_terms(query: str) -> int:
    """How many words BM25 matches on (the FTS query's alternatives)."""
    match = fts_query(query)
    return match.count(" OR ") + 1 if match else 0


def _with_relevance(mode: SearchMode, hits: list[SearchHit], signals: QuerySignals, terms: int) -> list[SearchHit]:
    """Hits with their calibrated relevance; it falls down the list, as their shown scores do."""
    out: list[SearchHit] = []
    for hit in hits:
        score = hit.score / max(1, terms) if mode == "keyword" else hit.score
        out.append(hit.model_copy(update={"relevance": relevance(mode, score, signals)}))
    return out


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


