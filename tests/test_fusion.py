"""Fusion of index rankings against values worked out by hand."""

from __future__ import annotations

import pytest

from orgkb.server.search.fusion import Ranking, fuse, fuse_rrf, fuse_zscore, max_per_document, single, standardise, zscores

# Vector hits: document A has chunks a1 (0.9) and a2 (0.4); B has b1 (0.8). Documents score their best chunk.
SEMANTIC = max_per_document([("a1", "A", 0.9), ("b1", "B", 0.8), ("a2", "A", 0.4)])
# BM25: whole documents C=8, B=6, D=1; chunks c1=5, b2=3, d1=1.
KEYWORD = Ranking({"C": 8.0, "B": 6.0, "D": 1.0}, {"c1": 5.0, "b2": 3.0, "d1": 1.0})


def test_max_per_document() -> None:
    assert SEMANTIC.documents == {"A": 0.9, "B": 0.8}
    assert SEMANTIC.chunks == {"a1": 0.9, "b1": 0.8, "a2": 0.4}


def test_standard_scores() -> None:
    # mean(0.9, 0.8, 0.4) = 0.7; deviations 0.2, 0.1, -0.3 -> variance (0.04+0.01+0.09)/3 = 0.046667 -> sd 0.216025.
    mean, deviation = standardise([0.9, 0.8, 0.4])
    assert (mean, deviation) == (pytest.approx(0.7), pytest.approx(0.216025, abs=1e-6))
    standard, floor = zscores({"x": 0.9, "y": 0.8, "z": 0.4})
    assert standard["x"] == pytest.approx(0.2 / 0.216025, abs=1e-5) and floor == standard["z"]
    # All equal: everything is 0 and an absent item gets -1.
    assert zscores({"x": 3.0, "y": 3.0}) == ({"x": 0.0, "y": 0.0}, -1.0)


def test_zscore_fusion_of_documents() -> None:
    # Semantic documents A=0.9, B=0.8: mean 0.85, sd 0.05 -> A = +1, B = -1; absent (C, D) get -1.
    # Keyword documents C=8, B=6, D=1: mean 5, sd sqrt((9+1+16)/3) = 2.943920
    #   -> C = 1.019049, B = 0.339683, D = -1.358732; absent (A) gets -1.358732.
    # Average with weights 1/2, 1/2:
    #   C = (-1 + 1.019049)/2 = 0.009525     A = (1 - 1.358732)/2 = -0.179366
    #   B = (-1 + 0.339683)/2 = -0.330158    D = (-1 - 1.358732)/2 = -1.179366
    fused = fuse_zscore([SEMANTIC, KEYWORD], [0.5, 0.5])
    assert [doc for doc, _ in fused.documents] == ["C", "A", "B", "D"]
    assert [round(score, 6) for _, score in fused.documents] == [0.009525, -0.179366, -0.330158, -1.179366]


def test_zscore_fusion_of_chunks() -> None:
    # Semantic chunks 0.9, 0.8, 0.4 -> a1 = 0.925820, b1 = 0.462910, a2 = -1.388730 (the absent value).
    # Keyword chunks 5, 3, 1: mean 3, sd sqrt(8/3) = 1.632993 -> c1 = 1.224745, b2 = 0, d1 = -1.224745 (absent value).
    #   a1 = (0.925820 - 1.224745)/2 = -0.149463    b2 = (-1.388730 + 0)/2 = -0.694365
    #   c1 = (-1.388730 + 1.224745)/2 = -0.081993
    chunks = fuse_zscore([SEMANTIC, KEYWORD], [0.5, 0.5]).chunks
    assert chunks["a1"] == pytest.approx(-0.149463, abs=1e-6)
    assert chunks["b2"] == pytest.approx(-0.694365, abs=1e-6)
    assert chunks["c1"] == pytest.approx(-0.081993, abs=1e-6)


def test_rank_fusion_decides_which_documents_fill_the_first_places() -> None:
    # RRF (k=60, weights 1/2): B = 0.5/62 + 0.5/62 = 0.016129, A = C = 0.5/61 = 0.008197 (tie: by id), D = 0.5/63.
    # With two places, A and B are admitted and ordered by their z-scores (A -0.179 > B -0.330); C, D follow.
    fused = fuse_zscore([SEMANTIC, KEYWORD], [0.5, 0.5], depth=2)
    assert [doc for doc, _ in fused.documents] == ["A", "B", "C", "D"]
    ranks = fuse_rrf([SEMANTIC, KEYWORD], [0.5, 0.5], k=60).documents
    assert ranks == [("B", pytest.approx(1 / 62)), ("A", pytest.approx(0.5 / 61)), ("C", pytest.approx(0.5 / 61)),
                     ("D", pytest.approx(0.5 / 63))]


def test_weights_shift_the_balance() -> None:
    # 0.8 semantic: A = 0.8*1 + 0.2*-1.358732 = 0.528254; C = 0.8*-1 + 0.2*1.019049 = -0.596190;
    # B = 0.8*-1 + 0.2*0.339683 = -0.732063; D = 0.8*-1 + 0.2*-1.358732 = -1.071746.
    fused = fuse([SEMANTIC, KEYWORD], [0.8, 0.2], "zscore")
    assert [(d, round(s, 6)) for d, s in fused.documents] == [
        ("A", 0.528254), ("C", -0.59619), ("B", -0.732063), ("D", -1.071746)
    ]


def test_a_single_keyword_hit_counts_against_documents_it_lacks() -> None:
    # One keyword document (B) standardises to 0, absent ones get -1: A = (1 - 1)/2 = 0, B = (-1 + 0)/2 = -0.5.
    fused = fuse_zscore([SEMANTIC, Ranking({"B": 3.0}, {"b1": 3.0})], [0.5, 0.5])
    assert [(d, round(s, 6)) for d, s in fused.documents] == [("A", 0.0), ("B", -0.5)]


def test_an_empty_ranking_leaves_the_other_unchanged() -> None:
    fused = fuse_zscore([SEMANTIC, Ranking({}, {})], [0.5, 0.5])
    assert [d for d, _ in fused.documents] == ["A", "B"]


def test_single_ranking_keeps_raw_scores() -> None:
    fused = single(KEYWORD)
    assert fused.documents == [("C", 8.0), ("B", 6.0), ("D", 1.0)]
    assert fused.chunks == KEYWORD.chunks


def test_bad_weights_are_rejected() -> None:
    with pytest.raises(ValueError):
        fuse_zscore([SEMANTIC, KEYWORD], [0.0, 0.0])
    with pytest.raises(ValueError):
        fuse_rrf([SEMANTIC], [0.5, 0.5])
