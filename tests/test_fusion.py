"""Fusion of ranked chunk lists against values worked out by hand."""

from __future__ import annotations

import pytest

from server.fusion import Candidate, fuse, fuse_rrf, fuse_zscore, single, standardise

# Vector hits: document A has chunks a1 (0.9) and a2 (0.4); B has b1 (0.8).
SEMANTIC = [Candidate("a1", "A", 0.9), Candidate("b1", "B", 0.8), Candidate("a2", "A", 0.4)]
# BM25 hits: C has c1 (8); B has b1 (6) and b2 (1).
KEYWORD = [Candidate("c1", "C", 8.0), Candidate("b1", "B", 6.0), Candidate("b2", "B", 1.0)]


def test_standardise_is_mean_and_population_deviation() -> None:
    # mean(0.9, 0.8, 0.4) = 0.7; deviations 0.2, 0.1, -0.3 -> variance (0.04+0.01+0.09)/3 = 0.046667 -> sd 0.216025.
    mean, deviation = standardise([0.9, 0.8, 0.4])
    assert (mean, deviation) == (pytest.approx(0.7), pytest.approx(0.216025, abs=1e-6))
    assert standardise([3.0, 3.0]) == (3.0, 1.0)


def test_zscore_fusion_at_document_level() -> None:
    # Semantic z: a1 = 0.2/0.216025 = 0.925820, b1 = 0.462910, a2 = -1.388730 (lowest: the value for absent ones).
    # Keyword: mean 5, sd sqrt((9+1+16)/3) = 2.943920 -> c1 = 1.019049, b1 = 0.339683, b2 = -1.358732 (lowest).
    # Documents take their best chunk per list, the absent list's lowest z, and average with weights 1/2, 1/2:
    #   A = (0.925820 + -1.358732)/2 = -0.216456
    #   B = (0.462910 +  0.339683)/2 =  0.401297
    #   C = (-1.388730 + 1.019049)/2 = -0.184841
    fused = fuse_zscore([SEMANTIC, KEYWORD], [0.5, 0.5])
    assert [doc for doc, _ in fused.documents] == ["B", "C", "A"]
    scores = dict(fused.documents)
    assert scores["A"] == pytest.approx(-0.216456, abs=1e-6)
    assert scores["B"] == pytest.approx(0.401297, abs=1e-6)
    assert scores["C"] == pytest.approx(-0.184841, abs=1e-6)
    # Chunks use their own z: a2 = (-1.388730 + -1.358732)/2 = -1.373731; b1 is B's best in both lists.
    assert fused.chunks["a2"] == pytest.approx(-1.373731, abs=1e-6)
    assert fused.chunks["b1"] == pytest.approx(scores["B"])
    for chunk, doc in (("a1", "A"), ("a2", "A"), ("b1", "B"), ("b2", "B"), ("c1", "C")):
        assert fused.chunks[chunk] <= scores[doc] + 1e-12


def test_weights_shift_the_balance() -> None:
    # 0.8 semantic: A = 0.8*0.925820 + 0.2*-1.358732 = 0.468910; B = 0.8*0.462910 + 0.2*0.339683 = 0.438265;
    # C = 0.8*-1.388730 + 0.2*1.019049 = -0.907174.
    fused = fuse([SEMANTIC, KEYWORD], [0.8, 0.2], "zscore")
    assert [(d, round(s, 6)) for d, s in fused.documents] == [("A", 0.46891), ("B", 0.438265), ("C", -0.907174)]


def test_a_single_keyword_hit_still_beats_documents_the_keyword_index_missed() -> None:
    # One keyword candidate (b1) standardises to 0; documents it lacks get 0 - 1 = -1 there:
    #   B = (0.462910 + 0)/2 = 0.231455 beats A = (0.925820 - 1)/2 = -0.037090, though A led the vectors.
    fused = fuse_zscore([SEMANTIC, [Candidate("b1", "B", 3.0)]], [0.5, 0.5])
    scores = dict(fused.documents)
    assert scores["B"] == pytest.approx((0.462910 + 0) / 2, abs=1e-6)
    assert scores["A"] == pytest.approx((0.925820 - 1) / 2, abs=1e-6)
    assert [d for d, _ in fused.documents] == ["B", "A"]


def test_an_empty_list_leaves_the_other_ranking_unchanged() -> None:
    fused = fuse_zscore([SEMANTIC, []], [0.5, 0.5])
    assert [d for d, _ in fused.documents] == ["A", "B"]


def test_rrf_fuses_document_ranks() -> None:
    # Document ranks: semantic A=1, B=2; keyword C=1, B=2. With k=60 and weights 1:
    #   A = 1/61 = 0.016393, B = 1/62 + 1/62 = 0.032258, C = 1/61. A and C tie; ties break by id.
    fused = fuse_rrf([SEMANTIC, KEYWORD], [1.0, 1.0], k=60)
    assert fused.documents == [("B", pytest.approx(2 / 62)), ("A", pytest.approx(1 / 61)), ("C", pytest.approx(1 / 61))]
    # Chunks by their own ranks: b1 is 2nd in both lists -> 2/62; a2 is 3rd in one -> 1/63.
    assert fused.chunks["b1"] == pytest.approx(2 / 62)
    assert fused.chunks["a2"] == pytest.approx(1 / 63)


def test_single_list_ranks_documents_by_their_best_chunk_with_raw_scores() -> None:
    fused = single(KEYWORD)
    assert fused.documents == [("C", 8.0), ("B", 6.0)]
    assert fused.chunks == {"c1": 8.0, "b1": 6.0, "b2": 1.0}


def test_bad_weights_are_rejected() -> None:
    with pytest.raises(ValueError):
        fuse_zscore([SEMANTIC, KEYWORD], [0.0, 0.0])
    with pytest.raises(ValueError):
        fuse_rrf([SEMANTIC], [0.5, 0.5])
