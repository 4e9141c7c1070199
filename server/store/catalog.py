"""The catalog: what is indexed, in SQLite beside the vectors.

It holds every indexed document (its version stamp, content hash and text, so `fetch` answers
from what was indexed even when the source is down), every chunk (text, heading path,
location), the lexical (FTS5/BM25) indexes over chunks and over whole documents, per-source
sync state and failures.

The catalog is the source of truth for which chunks are current. A document's new chunks are
written to the vector store first, then swapped in here in one transaction, then the old
vectors are deleted: a search joins vector hits against this table, so it sees a document's
old version or its new one, never a mix, and a crash at any point leaves a consistent index.
Vector ids not yet confirmed here sit in `pending_vectors` until they are cleaned up.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from orgkb.connectors.base import Failure
from orgkb.server.store.schema import SCHEMA, SCHEMA_VERSION, migrate
from orgkb.server.store.records import (
    DocumentWrite,
    SourceState,
    StoredChunk,
    StoredDocument,
    file_type_of,
    stored_chunk,
    stored_document,
)

__all__ = ["Catalog", "DocumentWrite", "SourceState", "StoredChunk", "StoredDocument", "file_type_of"]

class Catalog:
    """SQLite catalog; one connection per thread, WAL so readers never wait for the indexer."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.RLock()
        with self._write_lock:
            connection = self._connection()
            connection.executescript(SCHEMA)
            connection.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            connection.commit()
        migrate(self, SCHEMA_VERSION)

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            connection.row_factory = sqlite3.Row
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA foreign_keys=ON")
            self._local.connection = connection
        return connection

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; everything in it lands together or not at all."""
        with self._write_lock:
            connection = self._connection()
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Run this thread's reads inside one read transaction: they all see the same commit."""
        connection = self._connection()
        nested = connection.in_transaction
        connection.execute("SAVEPOINT snapshot" if nested else "BEGIN")
        try:
            yield
        finally:
            connection.execute("RELEASE snapshot" if nested else "COMMIT")

    def query(self, sql: str, params: Iterable[object] = ()) -> list[sqlite3.Row]:
        """Run a read query on this thread's connection."""
        return self._connection().execute(sql, tuple(params)).fetchall()

    def close(self) -> None:
        """Close this thread's connection."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    # --- meta ---------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        """A stored setting such as the embedding model the index was built with."""
        rows = self.query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0]["value"] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        """Store a setting."""
        with self.transaction() as tx:
            tx.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # --- documents ----------------------------------------------------------------------

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
    ) -> list[StoredDocument]:
        """Documents (without sections) ordered by id, after ``after`` (cursor pagination).

        ``sources`` limits them to those sources (empty: none); ``contains`` to keys or titles
        containing that text, case-insensitively.
        """
        sql = f"SELECT {_DOCUMENT_COLUMNS} FROM documents WHERE 1=1"
        params: list[object] = []
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

    def counts(self) -> dict[str, tuple[int, int]]:
        """``source -> (documents, chunks)``."""
        rows = self.query("SELECT source, COUNT(*) AS docs, COALESCE(SUM(chunk_count), 0) AS chunks FROM documents GROUP BY source")
        return {row["source"]: (row["docs"], row["chunks"]) for row in rows}

    def metadata_values(self, source: str) -> tuple[list[str], list[dict[str, object]]]:
        """``(file types, metadata of each document)`` of one source, for listing what can be filtered on."""
        types = [row["file_type"] for row in self.query(
            "SELECT file_type, COUNT(*) AS n FROM documents WHERE source = ? GROUP BY file_type ORDER BY n DESC", (source,)
        )]
        rows = self.query("SELECT metadata FROM documents WHERE source = ? AND metadata != '{}'", (source,))
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
        return [r["chunk_id"] for r in rows]

    def _insert(self, tx: sqlite3.Connection, write: DocumentWrite, now: float) -> None:
        doc = write.document
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
                json.dumps(doc.metadata, ensure_ascii=False),
                json.dumps([s.model_dump() for s in doc.sections], ensure_ascii=False),
                len(write.chunks),
                now,
            ),
        )
        tx.execute(
            "INSERT INTO documents_fts(rowid, title, body) VALUES (?,?,?)", (inserted.lastrowid, doc.title, doc.text)
        )
        for chunk in write.chunks:
            cursor = tx.execute(
                "INSERT INTO chunks(chunk_id, doc_id, ordinal, text, heading_path, line_start, line_end, page, anchor)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
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
                ),
            )
            tx.execute(
                "INSERT INTO chunks_fts(rowid, title, heading, body) VALUES (?,?,?,?)",
                (cursor.lastrowid, doc.title, " ".join(chunk.heading_path), chunk.text),
            )

    def set_version(self, doc_id: str, version: str | None) -> None:
        """Record a new version stamp for a document whose content did not change."""
        with self.transaction() as tx:
            tx.execute("UPDATE documents SET version = ? WHERE doc_id = ?", (version, doc_id))

    # --- chunks -------------------------------------------------------------------------

    def get_chunks(self, chunk_ids: list[str]) -> dict[str, StoredChunk]:
        """Current chunks by id (stale or unknown ids are absent), all read from one snapshot."""
        found: dict[str, StoredChunk] = {}
        with self.snapshot():
            for start in range(0, len(chunk_ids), 500):
                batch = chunk_ids[start : start + 500]
                marks = ",".join("?" * len(batch))
                rows = self.query(f"{_CHUNK_SELECT} WHERE c.chunk_id IN ({marks})", batch)
                found.update((row["chunk_id"], stored_chunk(row)) for row in rows)
        return found

    def document_chunks(self, doc_id: str) -> list[StoredChunk]:
        """All chunks of a document in order."""
        return [stored_chunk(r) for r in self.query(f"{_CHUNK_SELECT} WHERE c.doc_id = ? ORDER BY c.ordinal", (doc_id,))]

    # --- vectors awaiting cleanup -------------------------------------------------------

    def pending_vectors(self) -> list[str]:
        """Vector ids that are not (or no longer) current: delete them from the vector store."""
        rows = self.query(
            "SELECT p.chunk_id FROM pending_vectors p LEFT JOIN chunks c ON c.chunk_id = p.chunk_id"
            " WHERE c.chunk_id IS NULL"
        )
        return [r["chunk_id"] for r in rows]

    def add_pending(self, chunk_ids: list[str]) -> None:
        """Record vector ids about to be written, before they are confirmed by `write_documents`."""
        with self.transaction() as tx:
            tx.executemany("INSERT OR IGNORE INTO pending_vectors(chunk_id) VALUES (?)", [(i,) for i in chunk_ids])

    def clear_pending(self, chunk_ids: list[str]) -> None:
        """Forget pending ids once they are gone from the vector store."""
        with self.transaction() as tx:
            tx.executemany("DELETE FROM pending_vectors WHERE chunk_id = ?", [(i,) for i in chunk_ids])

    # --- sources ------------------------------------------------------------------------

    def source_state(self, name: str) -> SourceState:
        """Sync state of a source (empty when never synced)."""
        rows = self.query("SELECT * FROM sources WHERE name = ?", (name,))
        if not rows:
            return SourceState(name=name)
        row = rows[0]
        return SourceState(
            name=name,
            cursor=row["cursor"],
            last_sync=row["last_sync"],
            last_full_sync=row["last_full_sync"],
            last_error=row["last_error"],
            last_summary=json.loads(row["last_summary"] or "{}"),
        )

    def record_sync(
        self,
        name: str,
        *,
        cursor: str | None,
        full: bool,
        error: str | None,
        summary: dict[str, int],
        failures: list[Failure] | None,
    ) -> None:
        """Store the outcome of a sync. ``failures=None`` keeps the previous failure list."""
        now = time.time()
        with self.transaction() as tx:
            tx.execute("INSERT OR IGNORE INTO sources(name) VALUES (?)", (name,))
            if error is None:
                tx.execute(
                    "UPDATE sources SET cursor = COALESCE(?, cursor), last_sync = ?, last_error = NULL,"
                    " last_summary = ?, last_full_sync = CASE WHEN ? THEN ? ELSE last_full_sync END WHERE name = ?",
                    (cursor, now, json.dumps(summary), full, now, name),
                )
            else:
                tx.execute(
                    "UPDATE sources SET last_error = ?, last_summary = ? WHERE name = ?",
                    (error, json.dumps(summary), name),
                )
            if failures is not None:
                tx.execute("DELETE FROM failures WHERE source = ?", (name,))
                tx.executemany(
                    "INSERT OR REPLACE INTO failures(source, key, message, at) VALUES (?,?,?,?)",
                    [(name, f.key, f.message, now) for f in failures],
                )

    def failures(self, source: str | None = None) -> list[Failure]:
        """Items that could not be read in the latest sync of each source."""
        sql = "SELECT source, key, message FROM failures"
        params: tuple[object, ...] = ()
        if source is not None:
            sql += " WHERE source = ?"
            params = (source,)
        return [Failure(source=r["source"], key=r["key"], message=r["message"]) for r in self.query(sql + " ORDER BY source, key", params)]

    def forget_source(self, name: str) -> list[str]:
        """Remove a source's documents and state (it left the config); returns stale vector ids."""
        doc_ids = [r["doc_id"] for r in self.query("SELECT doc_id FROM documents WHERE source = ?", (name,))]
        stale = self.write_documents([], doc_ids)
        with self.transaction() as tx:
            tx.execute("DELETE FROM sources WHERE name = ?", (name,))
            tx.execute("DELETE FROM failures WHERE source = ?", (name,))
        return stale

    def known_sources(self) -> list[str]:
        """Sources that have documents or sync state in the catalog."""
        rows = self.query("SELECT name FROM sources UNION SELECT DISTINCT source FROM documents")
        return sorted(r[0] for r in rows)

    def clear(self) -> None:
        """Drop every document, chunk and sync state (a full re-index with a new model)."""
        with self.transaction() as tx:
            for table in ("documents", "documents_fts", "chunks", "chunks_fts", "sources", "failures", "pending_vectors"):
                tx.execute(f"DELETE FROM {table}")


_DOCUMENT_COLUMNS = (  # all but the large sections, for listings
    "doc_id, source, key, title, uri, mime_type, file_type, modified, version, content_hash, metadata, chunk_count, indexed_at"
)

_CHUNK_SELECT = (
    "SELECT c.*, d.source, d.key, d.title, d.uri, d.file_type, d.modified FROM chunks c"
    " JOIN documents d ON d.doc_id = c.doc_id"
)
