"""Retrieval quality metrics with the standard trec_eval definitions (as BEIR reports them).

Every function takes one query's ranking (document ids, best first) and its judgments
(``doc id -> graded relevance``); judgments of 0 or less mean "not relevant". The averages run
over every judged query that has at least one relevant document, and a query the system
answered with nothing scores 0 (trec_eval's ``-c``), so a search that fails is never flattered.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

Qrels = Mapping[str, int]


def dcg(gains: Sequence[float]) -> float:
    """Discounted cumulative gain: ``sum(gain_i / log2(i + 1))`` over ranks i = 1, 2, ..."""
    return sum(gain / math.log2(rank + 1) for rank, gain in enumerate(gains, start=1))


def ndcg_at_k(ranking: Sequence[str], qrels: Qrels, k: int = 10) -> float:
    """nDCG@k with linear graded gains (trec_eval ``ndcg_cut``): DCG of the ranking over the ideal DCG."""
    ideal = sorted((rel for rel in qrels.values() if rel > 0), reverse=True)[:k]
    if not ideal:
        return 0.0
    gains = [max(qrels.get(doc, 0), 0) for doc in _dedupe(ranking)[:k]]
    return dcg(gains) / dcg(ideal)


def recall_at_k(ranking: Sequence[str], qrels: Qrels, k: int) -> float:
    """Share of the relevant documents found in the first ``k``."""
    relevant = {doc for doc, rel in qrels.items() if rel > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(_dedupe(ranking)[:k])) / len(relevant)


def mrr_at_k(ranking: Sequence[str], qrels: Qrels, k: int = 10) -> float:
    """Reciprocal rank of the first relevant document within the first ``k`` (0 when none)."""
    for rank, doc in enumerate(_dedupe(ranking)[:k], start=1):
        if qrels.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def evaluate(runs: Mapping[str, Sequence[str]], qrels: Mapping[str, Qrels]) -> dict[str, float]:
    """Mean nDCG@10, Recall@10, Recall@100 and MRR@10 over the judged queries of ``qrels``."""
    judged = [qid for qid, judgments in qrels.items() if any(rel > 0 for rel in judgments.values())]
    if not judged:
        raise ValueError("no query has a relevant document in the judgments")
    totals = {"ndcg@10": 0.0, "recall@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}
    for qid in judged:
        ranking = runs.get(qid, [])
        totals["ndcg@10"] += ndcg_at_k(ranking, qrels[qid], 10)
        totals["recall@10"] += recall_at_k(ranking, qrels[qid], 10)
        totals["recall@100"] += recall_at_k(ranking, qrels[qid], 100)
        totals["mrr@10"] += mrr_at_k(ranking, qrels[qid], 10)
    return {name: value / len(judged) for name, value in totals.items()}


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation between closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _dedupe(ranking: Sequence[str]) -> list[str]:
    # A document retrieved twice (two passages) counts once, at its best rank.
    return list(dict.fromkeys(ranking))
