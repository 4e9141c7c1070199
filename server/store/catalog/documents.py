"""Indexed documents: their states, listings, counts, and the one write that swaps a document's chunks."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence

from orgkb.server.language.analysis import DEFAULT_LANGUAGE
from orgkb.server.store.catalog.permissions import PermissionRecords, readable_by
from orgkb.server.store.lexical import ChunkText, lexical_rows
from orgkb.server.store.records import (
    DocumentWrite,
    StoredDocument,
    file_type_of,
    stored_document,
)

_DOCUMENT_COLUMNS = (  # all but the large sections, for listings
    "doc_id, source, key, title, uri, mime_type, file_type, modified, version, content_hash, metadata, chunk_count, indexed_at"
)


class DocumentRecords(PermissionRecords):
    """Documents and their chunks as one write; listings and counts filtered by readers."""

    def document_states(self, source: str) -> dict[str, tuple[str | None, str]]:
        """``key -> (version, content_hash)`` for every indexed document of a source."""
        rows = self.query("SELECT key, version, content_hash FROM documents WHERE source = ?", (source,))
        return {row["key"]: (row["version"], row["content_hash"]) for row in rows}

    def document_state(self, doc_id: str) -> tuple[str | None, str] | None:
        """``(version, content_hash)`` of one indexed document, or None."""
        rows = self.query("SELECT version, content_hash FROM documents WHERE doc_id = ?", (doc_id,))
        return (rows[0]["version"], rows[0]["content_hash"]) if rows else None

    def get_document(self, doc_id: str, with_sections: bool = True) -> StoredDocument | None:
        """The stored document, or None."""
        rows = self.query("SELECT * FROM documents WHERE doc_id = ?", (doc_id,))
        return stored_document(rows[0], with_sections) if rows else None

    def find_document_by_uri(self, uri: str) -> StoredDocument | None:
        """The document whose citation uri is ``uri`` (a fragment such as ``#Section`` is ignored)."""
        base = uri.split("#", 1)[0]
        rows = self.query("SELECT * FROM documents WHERE uri = ? OR uri = ? LIMIT 1", (uri, base))
        return stored_document(rows[0], True) if rows else None

    def list_documents(
        self,
        source: str | None = None,
        after: str | None = None,
        limit: int = 100,
        prefix: str | None = None,
        sources: Sequence[str] | None = None,
        contains: str | None = None,
        principals: frozenset[str] | None = None,
    ) -> list[StoredDocument]:
        """Documents (without sections) ordered by id, after ``after`` (cursor pagination).

        ``sources`` limits them to those sources (empty: none); ``contains`` to keys or titles
        containing that text, case-insensitively; ``principals`` to documents one of them may read.
        """
        sql = f"SELECT {_DOCUMENT_COLUMNS} FROM documents WHERE 1=1"
        params: list[object] = []
        if principals is not None:
            condition, values = readable_by(principals, "documents.doc_id")
            sql += f" AND {condition}"
            params.extend(values)
        wanted = [source] if source is not None else sources
        if wanted is not None:
            sql += f" AND source IN ({','.join('?' * len(wanted))})" if wanted else " AND 0"
            params.extend(wanted)
        if after is not None:
            sql += " AND doc_id > ?"
            params.append(after)
        if prefix:
            sql += " AND doc_id >= ? AND doc_id < ?"
            params.extend([prefix, prefix + "\U0010ffff"])
        if contains:
            like = "%" + contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            sql += " AND (key LIKE ? ESCAPE '\\' OR title LIKE ? ESCAPE '\\')"
            params.extend([like, like])
        sql += " ORDER BY doc_id LIMIT ?"
        params.append(limit)
        return [stored_document(row, False) for row in self.query(sql, params)]

    def counts(self, principals: frozenset[str] | None = None) -> dict[str, tuple[int, int]]:
        """``source -> (documents, chunks)``, of the documents one of ``principals`` may read (None: all)."""
        condition, params = readable_by(principals, "documents.doc_id") if principals is not None else ("1=1", [])
        rows = self.query(
            "SELECT source, COUNT(*) AS docs, COALESCE(SUM(chunk_count), 0) AS chunks FROM documents"
            f" WHERE {condition} GROUP BY source",
            params,
        )
        return {row["source"]: (row["docs"], row["chunks"]) for row in rows}

    def metadata_values(
        self, source: str, principals: frozenset[str] | None = None, sample: int = 2000
    ) -> tuple[list[str], list[dict[str, object]]]:
        """``(file types, metadata of up to ``sample`` documents)`` of one source, for listing what can be
        filtered on; ``principals`` limits both to documents one of them may read."""
        condition, params = readable_by(principals, "documents.doc_id") if principals is not None else ("1=1", [])
        types = [row["file_type"] for row in self.query(
            f"SELECT file_type, COUNT(*) AS n FROM documents WHERE source = ? AND {condition} GROUP BY file_type ORDER BY n DESC",
            (source, *params),
        )]
        rows = self.query(
            f"SELECT metadata FROM documents WHERE source = ? AND metadata != '{{}}' AND {condition} ORDER BY rowid DESC LIMIT ?",
            (source, *params, sample),
        )
        return types, [json.loads(row["metadata"]) for row in rows]

    def write_documents(self, writes: list[DocumentWrite], deletes: list[str]) -> list[str]:
        """Swap in new document versions and remove deleted ones in one transaction.

        Returns the chunk ids of replaced or removed versions: their vectors are stale now and
        are recorded as pending until the caller has deleted them from the vector store.
        """
        stale: list[str] = []
        now = time.time()
        with self.transaction() as tx:
            for doc_id in [*(w.document.id for w in writes), *deletes]:
                stale.extend(self._remove(tx, doc_id))
            for write in writes:
                self._insert(tx, write, now)
            self._write_permissions(tx, [(w.document.id, w.document.permissions) for w in writes if w.document.permissions])
            new_ids = [c.id for w in writes for c in w.chunks]
            tx.executemany("DELETE FROM pending_vectors WHERE chunk_id = ?", [(i,) for i in new_ids])
            # A chunk id can survive a rewrite when content is unchanged but metadata moved; keep those.
            current = set(new_ids)
            stale = [i for i in stale if i not in current]
            tx.executemany("INSERT OR IGNORE INTO pending_vectors(chunk_id) VALUES (?)", [(i,) for i in stale])
        return stale

    def _remove(self, tx: sqlite3.Connection, doc_id: str) -> list[str]:
        rows = tx.execute("SELECT rowid, chunk_id FROM chunks WHERE doc_id = ?", (doc_id,)).fetchall()
        tx.executemany("DELETE FROM chunks_fts WHERE rowid = ?", [(r["rowid"],) for r in rows])
        tx.execute("DELETE FROM documents_fts WHERE rowid = (SELECT rowid FROM documents WHERE doc_id = ?)", (doc_id,))
        tx.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
        tx.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
        self._write_permissions(tx, [(doc_id, None)])
        return [r["chunk_id"] for r in rows]

    def _insert(self, tx: sqlite3.Connection, write: DocumentWrite, now: float) -> None:
        doc = write.document
        language = write.language or DEFAULT_LANGUAGE
        chunk_languages = [c.language or language for c in write.chunks]
        # The language is stored as metadata (filterable like any other) but is not part of the
        # connector's document, so it stays out of the content hash.
        metadata = {**doc.metadata, "language": doc.metadata.get("language", language)}
        lexical = lexical_rows(
            doc.title, doc.text, language,
            [ChunkText(c.text, c.heading_path, cl) for c, cl in zip(write.chunks, chunk_languages, strict=True)],
        )
        inserted = tx.execute(
            "INSERT INTO documents(doc_id, source, key, title, uri, mime_type, file_type, modified, version,"
            " content_hash, metadata, sections, chunk_count, indexed_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                doc.id,
                doc.source,
                doc.key,
                doc.title,
                doc.uri,
                doc.mime_type,
                file_type_of(doc),
                doc.modified.timestamp() if doc.modified else None,
                doc.version,
                doc.content_hash,
                json.dumps(metadata, ensure_ascii=False),
                json.dumps([s.model_dump() for s in doc.sections], ensure_ascii=False),
                len(write.chunks),
                now,
            ),
        )
        tx.execute("INSERT INTO documents_fts(rowid, title, body) VALUES (?,?,?)", (inserted.lastrowid, *lexical.document))
        for chunk, chunk_language, fts_row in zip(write.chunks, chunk_languages, lexical.chunks, strict=True):
            cursor = tx.execute(
                "INSERT INTO chunks(chunk_id, doc_id, ordinal, text, heading_path, line_start, line_end, page, anchor,"
                " language) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    chunk.id,
                    chunk.doc_id,
                    chunk.ordinal,
                    chunk.text,
                    json.dumps(chunk.heading_path, ensure_ascii=False),
                    chunk.location.line_start,
                    chunk.location.line_end,
                    chunk.location.page,
                    chunk.anchor,
                    chunk_language,
                ),
            )
            tx.execute("INSERT INTO chunks_fts(rowid, title, heading, body) VALUES (?,?,?,?)", (cursor.lastrowid, *fts_row))

    def set_version(self, doc_id: str, version: str | None) -> None:
        """Record a new version stamp for a document whose content did not change."""
        with self.transaction() as tx:
            tx.execute("UPDATE documents SET version = ? WHERE doc_id = ?", (version, doc_id))
