"""The lexical indexes stay in step with the documents, and an older catalog is migrated in place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orgkb.server.search import retrieval
from orgkb.server.store.catalog import SCHEMA_VERSION, Catalog
from orgkb.server.embedding.embedder import HashingEmbedder
from orgkb.server.errors import OrgkbError
from orgkb.server.index.indexer import Indexer
from orgkb.server.search.searcher import Searcher
from tests.conftest import IndexFactory


def _corpus(path: Path, records: list[tuple[str, str]]) -> Path:
    path.write_text("".join(json.dumps({"_id": i, "title": i, "text": t}) + "\n" for i, t in records), encoding="utf-8")
    return path


def _fts_rows(catalog: Catalog) -> list[str]:
    return sorted(r[0] for r in catalog.query("SELECT title FROM documents_fts"))


def test_document_index_follows_adds_updates_and_deletions(tmp_path: Path, make_index: IndexFactory) -> None:
    corpus = _corpus(tmp_path / "c.jsonl", [("alpha", "red apples"), ("beta", "green pears")])
    index = make_index([{"name": "c", "type": "jsonl", "paths": [str(corpus)]}], HashingEmbedder())
    Indexer(index).run()
    assert _fts_rows(index.catalog) == ["alpha", "beta"]
    _corpus(corpus, [("alpha", "yellow bananas"), ("gamma", "blue plums")])
    Indexer(index).run()
    assert _fts_rows(index.catalog) == ["alpha", "gamma"]
    searcher = Searcher(index)
    assert [h.doc_id for h in searcher.search("bananas", mode="keyword").hits] == ["c:alpha"]
    assert searcher.search("apples", mode="keyword").hits == []


def test_a_version_1_catalog_gets_its_document_index_on_open(tmp_path: Path, make_index: IndexFactory) -> None:
    corpus = _corpus(tmp_path / "c.jsonl", [("alpha", "red apples"), ("beta", "green pears")])
    index = make_index([{"name": "c", "type": "jsonl", "paths": [str(corpus)]}], HashingEmbedder())
    Indexer(index).run()
    path = index.catalog.path
    # Make it look like a catalog written before document-level BM25 existed.
    with index.catalog.transaction() as tx:
        tx.execute("DELETE FROM documents_fts")
        tx.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    index.catalog.close()
    reopened = Catalog(path)
    assert _fts_rows(reopened) == ["alpha", "beta"]
    assert reopened.get_meta("schema_version") == str(SCHEMA_VERSION)
    body = reopened.query("SELECT body FROM documents_fts WHERE title = 'beta'")[0][0]
    assert "green pear" in body  # stored analysed: stemmed, as queries are
    reopened.close()


def test_a_catalog_from_a_newer_version_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite3")
    catalog.set_meta("schema_version", str(SCHEMA_VERSION + 1))
    catalog.close()
    with pytest.raises(OrgkbError, match="newer orgkb"):
        Catalog(tmp_path / "catalog.sqlite3")


def test_best_chunks_of_documents_ranked_on_their_whole_text(tmp_path: Path, make_index: IndexFactory) -> None:
    text = "Alpha one two three four five six seven eight.\n\nOmega nine ten eleven twelve thirteen fourteen."
    corpus = _corpus(tmp_path / "c.jsonl", [("x", text), ("y", "nothing relevant here at all")])
    index = make_index(
        [{"name": "c", "type": "jsonl", "paths": [str(corpus)]}], HashingEmbedder(max_tokens=16), chunking={"max_tokens": 16}
    )
    Indexer(index).run()
    chunks = index.catalog.document_chunks("c:x")
    assert len(chunks) == 2 and "Omega" in chunks[1].text
    found = retrieval.best_chunks(index, "omega", ["c:x", "c:y"])
    # x: its chunk that matches; y: no chunk matches, so its first chunk stands in.
    assert found == [(chunks[1].chunk_id, "c:x"), (index.catalog.document_chunks("c:y")[0].chunk_id, "c:y")]
