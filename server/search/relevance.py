"""Calibrated relevance: a number in [0, 1] that means the same for every query.

Fused scores are relative (standard scores among one query's candidates), so the best hit of
an off-topic question scores as high as the best hit of a good one. Relevance adds what is
absolute about a query: how close the nearest chunk is in meaning (cosine similarity) and how
strongly the best document matches its words (BM25 per query term). A logistic model maps

    relevance = sigmoid(w_rank * rank_score + w_cosine * best_cosine + w_bm25 * best_bm25 + bias)

where ``rank_score`` is the hit's own score in the mode that ranked it, so within one query
relevance only falls as the ranking goes down (every weight on it is positive): the order a
client sees and the numbers it sees agree. The weights were fitted on SciFact's train split
(`scripts/calibrate_relevance.py`, a hit is positive when judged relevant) and checked on its
test split; the figures are in that script's output and the README.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

RelevanceMode = Literal["hybrid", "semantic", "keyword"]


class Calibration(NamedTuple):
    """Logistic weights of one search mode."""

    rank: float
    cosine: float
    bm25: float
    bias: float


# Fitted by scripts/calibrate_relevance.py on SciFact train: the first 20 hits of its 809 queries,
# and of the same queries with their relevant documents taken out (unanswerable).
CALIBRATIONS: dict[str, Calibration] = {
    "hybrid": Calibration(rank=1.172, cosine=0.261, bm25=-0.066, bias=-6.71),
    "semantic": Calibration(rank=27.071, cosine=-16.752, bm25=0.0, bias=-8.025),
    "keyword": Calibration(rank=2.706, cosine=0.0, bm25=-1.418, bias=-5.625),
}


class QuerySignals(NamedTuple):
    """What is absolute about one query's candidates."""

    best_cosine: float = 0.0
    best_bm25: float = 0.0  # the best document's BM25 divided by the number of query terms


def query_signals(cosines: list[float], bm25: list[float], terms: int) -> QuerySignals:
    """Signals from the semantic candidates' cosine similarities and the BM25 document scores."""
    return QuerySignals(
        best_cosine=max(cosines, default=0.0),
        best_bm25=max(bm25, default=0.0) / max(1, terms),
    )


def relevance(mode: RelevanceMode, rank_score: float, signals: QuerySignals) -> float:
    """The calibrated probability that a hit with ``rank_score`` answers the query."""
    weights = CALIBRATIONS[mode]
    # Semantic mode ranks by the cosine itself; keyword mode by BM25, scaled per query term as the signal is.
    logit = weights.rank * rank_score + weights.cosine * signals.best_cosine + weights.bm25 * signals.best_bm25 + weights.bias
    return round(_sigmoid(logit), 3)


def _sigmoid(value: float) -> float:
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    exp = math.exp(value)
    return exp / (1.0 + exp)
