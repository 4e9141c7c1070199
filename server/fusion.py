"""Fusing ranked chunk lists into one document ranking, and scoring each chunk for passages.

Pure functions over `Candidate` lists, so the fusion can be tested against hand-computed
values and tuned offline on cached candidates.

Both fusion methods work at the document level: a document's evidence in one list is its best
chunk there (max-p), and the evidence of both lists is then combined. Fusing chunks instead
splits a document's evidence when the vector index likes one of its chunks and BM25 another.

- ``zscore`` (default): each list's scores are standardised (minus their mean, over their
  standard deviation across that list's candidates), then averaged with weights. A candidate
  absent from a list gets that list's lowest standardised score. Unlike min-max scaling it does
  not hinge on one extreme value, and unlike raw scores it is indifferent to each model's scale
  (cosines of 0.2–0.5 or 0.7–0.9, BM25 of any magnitude). On SciFact's train split it beat
  reciprocal rank fusion by about 0.02 nDCG@10 at every pool size and weight tried.
- ``rrf``: reciprocal rank fusion, ``sum(w / (k + rank))`` over the document ranks.

Each chunk also gets a fused score from its own evidence, by the same formula; a document's
score is never below any of its chunks', so passages of a document rank below its headline.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, NamedTuple

FusionMethod = Literal["zscore", "rrf"]


class Candidate(NamedTuple):
    """One chunk retrieved by one index, with that index's score (higher is better)."""

    chunk_id: str
    doc_id: str
    score: float


class Fused(NamedTuple):
    """Fused scores: per document (ranking order) and per chunk (passage choice)."""

    documents: list[tuple[str, float]]
    chunks: dict[str, float]


def best_per_document(candidates: Sequence[Candidate]) -> dict[str, float]:
    """Each document's best chunk score (max-p)."""
    best: dict[str, float] = {}
    for candidate in candidates:
        if candidate.score > best.get(candidate.doc_id, -math.inf):
            best[candidate.doc_id] = candidate.score
    return best


def single(candidates: Sequence[Candidate]) -> Fused:
    """One list only (semantic or keyword mode): documents by their best chunk, raw scores kept."""
    documents = best_per_document(candidates)
    chunks: dict[str, float] = {}
    for candidate in candidates:
        chunks.setdefault(candidate.chunk_id, candidate.score)
    return Fused(_ordered(documents), chunks)


def standardise(scores: Sequence[float]) -> tuple[float, float]:
    """``(mean, standard deviation)`` of a list's scores; the deviation is 1.0 when they are all equal."""
    if not scores:
        return 0.0, 1.0
    mean = sum(scores) / len(scores)
    variance = sum((s - mean) ** 2 for s in scores) / len(scores)
    deviation = math.sqrt(variance)
    return mean, deviation if deviation > 1e-12 else 1.0


def fuse_zscore(lists: Sequence[Sequence[Candidate]], weights: Sequence[float]) -> Fused:
    """Weighted average of standardised scores, at document level (max-p) and per chunk."""
    _check(lists, weights)
    doc_parts: list[tuple[dict[str, float], float]] = []
    chunk_parts: list[tuple[dict[str, float], float]] = []
    for candidates in lists:
        if not candidates:
            doc_parts.append(({}, 0.0))
            chunk_parts.append(({}, 0.0))
            continue
        scores = [c.score for c in candidates]
        mean, deviation = standardise(scores)
        z_chunks: dict[str, float] = {}
        for candidate in candidates:
            z_chunks.setdefault(candidate.chunk_id, (candidate.score - mean) / deviation)
        lowest = min(z_chunks.values())
        # One candidate (or all equal) standardises to 0: still rank what was found above what was not.
        floor = lowest - 1.0 if max(scores) - min(scores) <= 1e-12 else lowest
        doc_z = {doc: (score - mean) / deviation for doc, score in best_per_document(candidates).items()}
        doc_parts.append((doc_z, floor))
        chunk_parts.append((z_chunks, floor))
    return Fused(_ordered(_combine(doc_parts, weights)), _combine(chunk_parts, weights))


def fuse_rrf(lists: Sequence[Sequence[Candidate]], weights: Sequence[float], k: float = 60.0) -> Fused:
    """Weighted reciprocal rank fusion of the document ranks; chunks by their own ranks."""
    _check(lists, weights)
    documents: dict[str, float] = {}
    chunks: dict[str, float] = {}
    for candidates, weight in zip(lists, weights, strict=True):
        for rank, (doc, _) in enumerate(_ordered(best_per_document(candidates)), start=1):
            documents[doc] = documents.get(doc, 0.0) + weight / (k + rank)
        seen: set[str] = set()
        for candidate in candidates:
            if candidate.chunk_id in seen:
                continue
            seen.add(candidate.chunk_id)
            chunks[candidate.chunk_id] = chunks.get(candidate.chunk_id, 0.0) + weight / (k + len(seen))
    return Fused(_ordered(documents), chunks)


def fuse(lists: Sequence[Sequence[Candidate]], weights: Sequence[float], method: FusionMethod, rrf_k: float = 60.0) -> Fused:
    """Fuse with the named method."""
    if method == "rrf":
        return fuse_rrf(lists, weights, rrf_k)
    return fuse_zscore(lists, weights)


def _combine(parts: list[tuple[dict[str, float], float]], weights: Sequence[float]) -> dict[str, float]:
    total = sum(weights)
    keys: dict[str, None] = {}
    for scores, _ in parts:
        keys.update(dict.fromkeys(scores))
    return {
        key: sum(w * scores.get(key, floor) for (scores, floor), w in zip(parts, weights, strict=True)) / total
        for key in keys
    }


def _ordered(scores: dict[str, float]) -> list[tuple[str, float]]:
    # Ties break by id so a ranking never depends on dict order.
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def _check(lists: Sequence[Sequence[Candidate]], weights: Sequence[float]) -> None:
    if len(lists) != len(weights):
        raise ValueError("one weight per list")
    if sum(weights) <= 0 or any(w < 0 for w in weights):
        raise ValueError("weights must be non-negative and not all zero")
