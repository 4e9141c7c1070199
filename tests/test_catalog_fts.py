"""The lexical indexes stay in step with the documents, and an older catalog is migrated in place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orgkb.server.search import retrieval
from orgkb.server.store.catalog import Catalog
from orgkb.server.store.schema import SCHEMA_VERSION
from orgkb.server.embedding.embedder import HashingEmbedder
from orgkb.server.errors import OrgkbError
from orgkb.server.index.indexer import Indexer
from orgkb.server.index.knowledge import KnowledgeIndex
from orgkb.server.store.filters import SearchFilters
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


# The schema-2 FTS tables, exactly as orgkb wrote them before language-aware analysis.
_SCHEMA_2_FTS = [
    "CREATE VIRTUAL TABLE chunks_fts USING fts5(title, heading, body, tokenize = 'porter unicode61 remove_diacritics 2')",
    "CREATE VIRTUAL TABLE documents_fts USING fts5(title, body, tokenize = 'porter unicode61 remove_diacritics 2')",
]


def _as_schema_2(index: KnowledgeIndex) -> None:
    """Rewrite a fresh index into what schema-2 orgkb left on disk: no languages, raw text in porter FTS tables."""
    catalog = index.catalog
    with catalog.transaction() as tx:
        tx.execute("DROP INDEX chunks_language")
        tx.execute("ALTER TABLE chunks DROP COLUMN language")
        tx.execute("DROP TABLE chunks_fts")
        tx.execute("DROP TABLE documents_fts")
        for create in _SCHEMA_2_FTS:
            tx.execute(create)
        for row in tx.execute("SELECT rowid, doc_id, metadata FROM documents").fetchall():
            metadata = json.loads(row["metadata"])
            del metadata["language"]
            tx.execute("UPDATE documents SET metadata = ? WHERE rowid = ?", (json.dumps(metadata), row["rowid"]))
            document = catalog.get_document(row["doc_id"])
            assert document is not None
            tx.execute(
                "INSERT INTO documents_fts(rowid, title, body) VALUES (?,?,?)",
                (row["rowid"], document.title, document.as_document().text),
            )
        for row in tx.execute("SELECT c.rowid, c.text, c.heading_path, d.title FROM chunks c JOIN documents d USING (doc_id)"):
            tx.execute(
                "INSERT INTO chunks_fts(rowid, title, heading, body) VALUES (?,?,?,?)",
                (row["rowid"], row["title"], " ".join(json.loads(row["heading_path"])), row["text"]),
            )
        tx.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    # Vectors written then carried no language.
    stored = index.store.collection.get(include=["embeddings", "metadatas"])
    metadatas = [{k: v for k, v in m.items() if k != "m_language"} for m in stored["metadatas"]]
    index.store.collection.delete(ids=stored["ids"])
    index.store.collection.add(ids=stored["ids"], embeddings=stored["embeddings"], metadatas=metadatas)
    catalog.close()


def test_a_schema_2_index_migrates_keeping_its_vectors(tmp_path: Path, make_index: IndexFactory) -> None:
    records = [
        ("strat", "Platforma este construită pe straturi. Stratul de stocare păstrează datele brute în S3, "
                  "iar stratul de modele antrenează prognozele în fiecare săptămână."),
        ("leave", "Employees get 23 days of annual leave; requests are approved by the line manager in the HR portal."),
    ]
    corpus = _corpus(tmp_path / "c.jsonl", records)
    embedder = HashingEmbedder()
    index = make_index([{"name": "c", "type": "jsonl", "paths": [str(corpus)]}], embedder)
    Indexer(index).run()
    _as_schema_2(index)
    before = index.store.collection.get(include=["embeddings"])
    assert Catalog(index.catalog.path).get_meta("schema_version") == str(SCHEMA_VERSION)  # migrated on open

    upgraded = KnowledgeIndex(index.config, embedder=embedder)
    upgraded.open()
    after = upgraded.store.collection.get(include=["embeddings", "metadatas"])
    assert sorted(after["ids"]) == sorted(before["ids"])
    by_id = dict(zip(before["ids"], before["embeddings"], strict=True))
    assert all(list(by_id[i]) == list(v) for i, v in zip(after["ids"], after["embeddings"], strict=True))
    assert {m["m_language"] for m in after["metadatas"]} == {"ro", "en"}

    searcher = Searcher(upgraded)
    assert [h.doc_id for h in searcher.search("straturile", mode="keyword").hits] == ["c:strat"]
    for mode in ("keyword", "semantic"):
        query = "datele brute HR portal"
        assert {h.doc_id for h in searcher.search(query, mode=mode).hits} == {"c:strat", "c:leave"}  # type: ignore[arg-type]
        for language, expected in (("en", "c:leave"), ("ro", "c:strat")):
            filters = SearchFilters(metadata={"language": language})
            hits = searcher.search(query, mode=mode, filters=filters).hits  # type: ignore[arg-type]
            assert [h.doc_id for h in hits] == [expected], (mode, language)
    embedded = len(embedder.embedded_texts)
    assert Indexer(upgraded).run().total("chunks_embedded") == 0
    assert len(embedder.embedded_texts) == embedded
