"""A full sync remembers the keys it saw on disk, not in memory, and still deletes exactly what is gone."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from orgkb.connectors.base import Document, Section
from orgkb.server.store.catalog import Catalog, DocumentWrite
from orgkb.server.embedding.embedder import HashingEmbedder
from orgkb.server.index.indexer import Indexer
from orgkb.server.store.seen_keys import SeenKeys
from tests.conftest import IndexFactory


def _document(source: str, key: str) -> DocumentWrite:
    document = Document(source=source, key=key, title=key, uri=f"file:///{key}", sections=[Section(text=key)])
    return DocumentWrite(document=document, chunks=[])


def test_unseen_lists_exactly_the_missing_keys_of_one_source(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite3")
    catalog.write_documents([_document("s", f"doc/{i}") for i in range(4500)] + [_document("other", "doc/1")], [])
    missing = {"doc/0", "doc/1999", "doc/2000", "doc/4499", "doc/77"}
    seen = SeenKeys(catalog.path)
    try:
        for i in range(4500):
            if f"doc/{i}" not in missing:
                seen.add(f"doc/{i}")
        seen.add("doc/never-indexed")
        batches = list(seen.unseen("s", batch=2))
    finally:
        seen.close()
    assert all(len(b) <= 2 for b in batches)
    assert sorted(k for b in batches for k in b) == sorted(missing)
    catalog.close()


def test_a_large_table_loses_exactly_its_deleted_rows(tmp_path: Path, make_index: IndexFactory) -> None:
    db = tmp_path / "big.db"
    with sqlite3.connect(db) as connection:
        connection.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
        connection.executemany("INSERT INTO items VALUES (?, ?)", [(i, f"item number {i}") for i in range(1, 5001)])
    source = {"name": "big", "type": "sql", "url": f"sqlite:///{db}", "schema_documents": False,
              "tables": [{"table": "items", "id": "id", "text": ["name"]}]}
    index = make_index([source], HashingEmbedder())
    assert Indexer(index).run().total("added") == 5000
    with sqlite3.connect(db) as connection:
        connection.execute("DELETE FROM items WHERE id % 4 = 0 OR id > 4900")
    summary = Indexer(index).run().sources[0]
    assert (summary.deleted, summary.unchanged, summary.added) == (1250 + 75, 3675, 0)
    assert index.catalog.counts()["big"][0] == 3675
    assert index.catalog.get_document("big:items/4") is None and index.catalog.get_document("big:items/5") is not None
