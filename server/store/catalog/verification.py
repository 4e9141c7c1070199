"""The read and repair queries of `orgkb verify` (`orgkb.server.index.verify`).

Lists hold what is wrong, never the whole index: a consistent catalog of any size gives empty lists.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence

from orgkb.server.language.analysis import DEFAULT_LANGUAGE
from orgkb.server.store.catalog.connection import CatalogConnection
from orgkb.server.store.lexical import ChunkText, LexicalRows, lexical_rows
from orgkb.server.store.records import (
    stored_document,
)


class VerificationQueries(CatalogConnection):
    """Consistency checks between chunks, documents, FTS rows and pending vectors."""

    def chunk_id_pages(self, size: int = 1000) -> Iterator[list[str]]:
        """Every chunk id, ``size`` at a time in rowid order, so memory stays bounded."""
        rows = self.query("SELECT rowid, chunk_id FROM chunks ORDER BY rowid LIMIT ?", (size,))
        while rows:
            yield [row["chunk_id"] for row in rows]
            rows = self.query(
                "SELECT rowid, chunk_id FROM chunks WHERE rowid > ? ORDER BY rowid LIMIT ?", (rows[-1]["rowid"], size)
            )

    def chunk_owners(self, chunk_ids: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        """``chunk_id -> (doc_id, source)`` for the ids that are catalog chunks (source None
        when the chunk's document row is missing)."""
        owners: dict[str, tuple[str, str | None]] = {}
        for start in range(0, len(chunk_ids), 500):
            batch = list(chunk_ids[start : start + 500])
            rows = self.query(
                "SELECT c.chunk_id, c.doc_id, d.source FROM chunks c LEFT JOIN documents d ON d.doc_id = c.doc_id"
                f" WHERE c.chunk_id IN ({','.join('?' * len(batch))})",
                batch,
            )
            owners.update((row["chunk_id"], (row["doc_id"], row["source"])) for row in rows)
        return owners

    def pending_among(self, chunk_ids: Sequence[str]) -> set[str]:
        """The ids among ``chunk_ids`` recorded in ``pending_vectors``."""
        found: set[str] = set()
        for start in range(0, len(chunk_ids), 500):
            batch = list(chunk_ids[start : start + 500])
            rows = self.query(f"SELECT chunk_id FROM pending_vectors WHERE chunk_id IN ({','.join('?' * len(batch))})", batch)
            found.update(row["chunk_id"] for row in rows)
        return found

    def pending_entries(self) -> list[tuple[str, bool]]:
        """Every ``pending_vectors`` row as ``(chunk_id, is_current_chunk)``."""
        rows = self.query(
            "SELECT p.chunk_id, c.chunk_id IS NOT NULL AS current FROM pending_vectors p"
            " LEFT JOIN chunks c ON c.chunk_id = p.chunk_id ORDER BY p.chunk_id"
        )
        return [(row["chunk_id"], bool(row["current"])) for row in rows]

    def chunks_without_document(self) -> list[str]:
        """Chunk ids whose document row does not exist."""
        rows = self.query(
            "SELECT c.chunk_id FROM chunks c LEFT JOIN documents d ON d.doc_id = c.doc_id WHERE d.doc_id IS NULL ORDER BY c.rowid"
        )
        return [row["chunk_id"] for row in rows]

    def duplicate_chunks(self) -> list[tuple[str, int, list[str]]]:
        """``(doc_id, ordinal, chunk ids in rowid order)`` for every position held by more than one chunk."""
        rows = self.query(
            "SELECT doc_id, ordinal, json_group_array(chunk_id) AS ids FROM"
            " (SELECT doc_id, ordinal, chunk_id FROM chunks ORDER BY rowid)"
            " GROUP BY doc_id, ordinal HAVING COUNT(*) > 1 ORDER BY doc_id, ordinal"
        )
        return [(row["doc_id"], row["ordinal"], json.loads(row["ids"])) for row in rows]

    def chunk_count_mismatches(self) -> list[tuple[str, int, int]]:
        """``(doc_id, recorded chunk_count, chunks actually stored)`` where the two differ."""
        rows = self.query(
            "SELECT d.doc_id, d.chunk_count, COUNT(c.rowid) AS actual FROM documents d"
            " LEFT JOIN chunks c ON c.doc_id = d.doc_id GROUP BY d.doc_id HAVING d.chunk_count != COUNT(c.rowid)"
            " ORDER BY d.doc_id"
        )
        return [(row["doc_id"], row["chunk_count"], row["actual"]) for row in rows]

    def chunks_missing_fts(self) -> list[str]:
        """Chunk ids with no ``chunks_fts`` row."""
        rows = self.query(
            "SELECT c.chunk_id FROM chunks c WHERE NOT EXISTS (SELECT 1 FROM chunks_fts f WHERE f.rowid = c.rowid)"
            " ORDER BY c.rowid"
        )
        return [row["chunk_id"] for row in rows]

    def stale_fts(self) -> tuple[list[str], list[str]]:
        """``(chunk ids, doc ids)`` whose keyword rows hold other text than the catalog's, analysed anew.

        Every document's rows are computed again the way the catalog writes them (one document
        at a time, so memory does not grow with the index) and compared with what is stored.
        """
        stale_chunks: list[str] = []
        stale_documents: list[str] = []
        after = ""
        while True:
            rows = self.query("SELECT rowid, * FROM documents WHERE doc_id > ? ORDER BY doc_id LIMIT 200", (after,))
            if not rows:
                return stale_chunks, stale_documents
            for row in rows:
                expected, chunks = self._expected_lexical(self._connection(), row)
                stored = self.query("SELECT title, body FROM documents_fts WHERE rowid = ?", (row["rowid"],))
                if stored and (stored[0]["title"], stored[0]["body"]) != expected.document:
                    stale_documents.append(row["doc_id"])
                for chunk, fts_row in zip(chunks, expected.chunks, strict=True):
                    found = self.query("SELECT title, heading, body FROM chunks_fts WHERE rowid = ?", (chunk["rowid"],))
                    if found and (found[0]["title"], found[0]["heading"], found[0]["body"]) != fts_row:
                        stale_chunks.append(chunk["chunk_id"])
            after = rows[-1]["doc_id"]

    def orphan_chunk_fts(self) -> list[int]:
        """``chunks_fts`` rowids that belong to no chunk."""
        rows = self.query(
            "SELECT f.rowid FROM chunks_fts f WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.rowid = f.rowid) ORDER BY f.rowid"
        )
        return [row[0] for row in rows]

    def documents_missing_fts(self) -> list[str]:
        """Document ids with no row in ``documents_fts``."""
        rows = self.query(
            "SELECT d.doc_id FROM documents d LEFT JOIN documents_fts f ON f.rowid = d.rowid"
            " WHERE f.rowid IS NULL ORDER BY d.doc_id"
        )
        return [row["doc_id"] for row in rows]

    def orphan_document_fts(self) -> list[int]:
        """``documents_fts`` rowids that belong to no document."""
        rows = self.query(
            "SELECT f.rowid FROM documents_fts f WHERE NOT EXISTS (SELECT 1 FROM documents d WHERE d.rowid = f.rowid)"
            " ORDER BY f.rowid"
        )
        return [row[0] for row in rows]

    def delete_fts_rows(self, chunk_rowids: Sequence[int], document_rowids: Sequence[int]) -> None:
        """Remove lexical index rows that belong to nothing."""
        with self.transaction() as tx:
            tx.executemany("DELETE FROM chunks_fts WHERE rowid = ?", [(r,) for r in chunk_rowids])
            tx.executemany("DELETE FROM documents_fts WHERE rowid = ?", [(r,) for r in document_rowids])

    def rebuild_fts(self, chunk_ids: Sequence[str], doc_ids: Sequence[str]) -> None:
        """Write the keyword rows of these documents (and of the documents of these chunks) again from the catalog."""
        with self.transaction() as tx:
            owners = set(doc_ids)
            for cid in chunk_ids:
                owner = tx.execute("SELECT doc_id FROM chunks WHERE chunk_id = ?", (cid,)).fetchone()
                if owner is not None:
                    owners.add(owner["doc_id"])
            for did in sorted(owners):
                row = tx.execute("SELECT rowid, * FROM documents WHERE doc_id = ?", (did,)).fetchone()
                if row is None:
                    continue
                expected, chunks = self._expected_lexical(tx, row)
                tx.execute("DELETE FROM documents_fts WHERE rowid = ?", (row["rowid"],))
                tx.execute("INSERT INTO documents_fts(rowid, title, body) VALUES (?,?,?)", (row["rowid"], *expected.document))
                for chunk, fts_row in zip(chunks, expected.chunks, strict=True):
                    tx.execute("DELETE FROM chunks_fts WHERE rowid = ?", (chunk["rowid"],))
                    tx.execute("INSERT INTO chunks_fts(rowid, title, heading, body) VALUES (?,?,?,?)", (chunk["rowid"], *fts_row))

    def _expected_lexical(self, connection: sqlite3.Connection, row: sqlite3.Row) -> tuple[LexicalRows, list[sqlite3.Row]]:
        """The keyword rows a stored document (a ``documents`` row) should have, and its chunk rows."""
        document = stored_document(row, True)
        language = str(document.metadata.get("language") or DEFAULT_LANGUAGE)
        chunks = connection.execute(
            "SELECT rowid, chunk_id, text, heading_path, language FROM chunks WHERE doc_id = ? ORDER BY ordinal", (row["doc_id"],)
        ).fetchall()
        texts = [ChunkText(c["text"], json.loads(c["heading_path"]), c["language"] or language) for c in chunks]
        return lexical_rows(document.title, document.as_document().text, language, texts), chunks

    def recount_chunks(self, doc_ids: Sequence[str]) -> None:
        """Set these documents' ``chunk_count`` to the chunks actually stored."""
        with self.transaction() as tx:
            tx.executemany(
                "UPDATE documents SET chunk_count = (SELECT COUNT(*) FROM chunks c WHERE c.doc_id = documents.doc_id)"
                " WHERE doc_id = ?",
                [(d,) for d in doc_ids],
            )

    def remove_chunks(self, chunk_ids: Sequence[str]) -> None:
        """Delete chunk rows (and their lexical rows); their vector ids become pending, as in
        `write_documents`, until the caller has deleted them from the vector store."""
        with self.transaction() as tx:
            for cid in chunk_ids:
                row = tx.execute("SELECT rowid FROM chunks WHERE chunk_id = ?", (cid,)).fetchone()
                if row is None:
                    continue
                tx.execute("DELETE FROM chunks_fts WHERE rowid = ?", (row["rowid"],))
                tx.execute("DELETE FROM chunks WHERE rowid = ?", (row["rowid"],))
                tx.execute("INSERT OR IGNORE INTO pending_vectors(chunk_id) VALUES (?)", (cid,))
