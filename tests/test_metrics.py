"""Retrieval metrics against values worked out by hand (trec_eval definitions)."""

from __future__ import annotations

import math

import pytest

from orgkb.server.eval.metrics import dcg, evaluate, mrr_at_k, ndcg_at_k, percentile, recall_at_k

RANKING = ["d3", "d1", "d7", "d2"]
QRELS = {"d1": 1, "d2": 2, "d9": 1, "d5": 0}


def test_ndcg_uses_linear_graded_gains_and_the_ideal_from_all_judgments() -> None:
    # Gains by rank: d3=0, d1=1, d7=0, d2=2 -> DCG = 1/log2(3) + 2/log2(5) = 0.630930 + 0.861353 = 1.492283.
    # Ideal: relevant grades sorted [2, 1, 1] (d5's 0 is not relevant) -> 2/log2(2) + 1/log2(3) + 1/log2(4)
    #        = 2 + 0.630930 + 0.5 = 3.130930.   nDCG@10 = 1.492283 / 3.130930 = 0.476626.
    assert ndcg_at_k(RANKING, QRELS, 10) == pytest.approx(0.476626, abs=1e-6)
    # @2 keeps d3, d1: DCG = 0.630930; ideal @2 = 2 + 0.630930 = 2.630930 -> 0.239812.
    assert ndcg_at_k(RANKING, QRELS, 2) == pytest.approx(0.630930 / 2.630930, abs=1e-6)
    assert dcg([3, 0, 1]) == pytest.approx(3 + 0 + 1 / math.log2(4))


def test_recall_and_mrr() -> None:
    # Relevant: d1, d2, d9 (three). Found in the first 10: d1, d2 -> 2/3; in the first 2: d1 -> 1/3.
    assert recall_at_k(RANKING, QRELS, 10) == pytest.approx(2 / 3)
    assert recall_at_k(RANKING, QRELS, 2) == pytest.approx(1 / 3)
    # The first relevant document (d1) is at rank 2 -> 1/2; within the first 1 there is none -> 0.
    assert mrr_at_k(RANKING, QRELS, 10) == pytest.approx(0.5)
    assert mrr_at_k(RANKING, QRELS, 1) == 0.0


def test_a_document_listed_twice_counts_once_at_its_best_rank() -> None:
    # Deduplicated ranking: d1, d2 -> DCG = 1 + 2/log2(3) = 2.261860; ideal [2, 1, 1] = 3.130930 -> 0.722425.
    assert ndcg_at_k(["d1", "d1", "d2"], QRELS, 10) == pytest.approx((1 + 2 / math.log2(3)) / 3.130930, abs=1e-6)
    assert recall_at_k(["d1", "d1", "d1"], QRELS, 2) == pytest.approx(1 / 3)


def test_evaluate_averages_over_judged_queries_and_counts_unanswered_as_zero() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"c": 0}}
    runs = {"q1": ["x", "a"], "q3": ["c"]}  # q2 got no answer; q3 has no relevant document
    scores = evaluate(runs, qrels)
    # q1: nDCG = (1/log2(3)) / 1 = 0.630930, MRR = 1/2, recall = 1; q2: all 0; q3 is not judged relevant anywhere.
    assert scores["ndcg@10"] == pytest.approx(0.630930 / 2, abs=1e-6)
    assert scores["mrr@10"] == pytest.approx(0.25)
    assert scores["recall@10"] == pytest.approx(0.5)
    assert scores["recall@100"] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        evaluate(runs, {"q3": {"c": 0}})


def test_percentile_interpolates_between_ranks() -> None:
    # Position (n-1)*q: p50 of [10,20,30,40] sits at 1.5 -> 25; p95 at 2.85 -> 30 + 0.85*10 = 38.5.
    assert percentile([40, 10, 30, 20], 50) == pytest.approx(25)
    assert percentile([40, 10, 30, 20], 95) == pytest.approx(38.5)
    assert percentile([7], 95) == 7
