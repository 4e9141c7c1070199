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
from orgkb.connectors.permissions import Permissions
from orgkb.server.language.analysis import DEFAULT_LANGUAGE
from orgkb.server.store.lexical import ChunkText, LexicalRows, lexical_rows
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

    def delete_meta(self, key: str) -> None:
        """Remove a setting."""
        with self.transaction() as tx:
            tx.execute("DELETE FROM meta WHERE key = ?", (key,))

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

    def languages(self) -> list[str]:
        """The languages of the indexed chunks (what a query is analysed for), asked on every search.

        A skip scan of the ``chunks_language`` index: one seek per language, where DISTINCT
        would read every chunk's entry (4 ms on 10,000 chunks).
        """
        rows = self.query(
            "WITH RECURSIVE found(language) AS (SELECT MIN(language) FROM chunks UNION ALL"
            " SELECT (SELECT MIN(language) FROM chunks WHERE language > found.language) FROM found"
            " WHERE found.language IS NOT NULL) SELECT language FROM found WHERE language IS NOT NULL"
        )
        return [r["language"] for r in rows]

    def source_languages(self) -> dict[str, list[str]]:
        """``source -> languages`` its chunks are written in, the most used first."""
        rows = self.query(
            "SELECT d.source, c.language, COUNT(*) AS n FROM chunks c JOIN documents d ON d.doc_id = c.doc_id"
            " WHERE c.language IS NOT NULL GROUP BY d.source, c.language ORDER BY d.source, n DESC, c.language"
        )
        found: dict[str, list[str]] = {}
        for row in rows:
            found.setdefault(row["source"], []).append(row["language"])
        return found

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
                    "INSERT OR REPLACE INTO failures(source, key, message, at, skipped, scope) VALUES (?,?,?,?,?,?)",
                    [(name, f.key, f.message, now, int(f.skipped), f.scope) for f in failures],
                )

    def failures(self, source: str | None = None) -> list[Failure]:
        """Items that could not be read in the latest sync of each source."""
        sql = "SELECT source, key, message, skipped, scope FROM failures"
        params: tuple[object, ...] = ()
        if source is not None:
            sql += " WHERE source = ?"
            params = (source,)
        return [
            Failure(source=r["source"], key=r["key"], message=r["message"], skipped=bool(r["skipped"]), scope=r["scope"])
            for r in self.query(sql + " ORDER BY source, key", params)
        ]

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
            for table in ("documents", "documents_fts", "chunks", "chunks_fts", "sources", "failures", "pending_vectors", *PERMISSION_TABLES):
                tx.execute(f"DELETE FROM {table}")

    # --- verification ---------------------------------------------------------------------
    # Read and repair queries of `orgkb verify` (orgkb.server.index.verify). Lists hold what is
    # wrong, never the whole index: a consistent catalog of any size gives empty lists.

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


    # --- permissions --------------------------------------------------------------------

    def permissions_of(self, doc_id: str) -> Permissions | None:
        """Who may read the document, as recorded at its last sync (None: not recorded)."""
        rows = self.query("SELECT rule FROM document_permissions WHERE doc_id = ?", (doc_id,))
        if not rows:
            return None
        names = self.query("SELECT principal FROM document_access WHERE doc_id = ?", (doc_id,))
        return Permissions(principals=frozenset(r["principal"] for r in names), rule=rows[0]["rule"])

    def set_permissions(self, items: list[tuple[str, Permissions]]) -> None:
        """Record new permissions of indexed documents (their content and vectors stay)."""
        with self.transaction() as tx:
            self._write_permissions(tx, list(items))

    def _write_permissions(self, tx: sqlite3.Connection, items: list[tuple[str, Permissions | None]]) -> None:
        """Replace the permissions of each document; None removes them."""
        for doc_id, permissions in items:
            tx.execute("DELETE FROM document_access WHERE doc_id = ?", (doc_id,))
            tx.execute("DELETE FROM document_permissions WHERE doc_id = ?", (doc_id,))
            if permissions is None:
                continue
            tx.execute("INSERT INTO document_permissions(doc_id, rule) VALUES (?,?)", (doc_id, permissions.rule))
            tx.executemany(
                "INSERT INTO document_access(doc_id, principal) VALUES (?,?)", [(doc_id, p) for p in sorted(permissions.principals)]
            )


PERMISSION_TABLES = ("document_permissions", "document_access")


def readable_by(principals: frozenset[str], doc_id_column: str) -> tuple[str, list[object]]:
    """A SQL condition: the document in ``doc_id_column`` is readable by one of ``principals``."""
    names = sorted(principals)
    if not names:
        return "0", []
    marks = ",".join("?" * len(names))
    return (
        f"EXISTS (SELECT 1 FROM document_access a WHERE a.doc_id = {doc_id_column} AND a.principal IN ({marks}))",
        list(names),
    )


_DOCUMENT_COLUMNS = (  # all but the large sections, for listings
    "doc_id, source, key, title, uri, mime_type, file_type, modified, version, content_hash, metadata, chunk_count, indexed_at"
)

_CHUNK_SELECT = (
    "SELECT c.*, d.source, d.key, d.title, d.uri, d.file_type, d.modified FROM chunks c"
    " JOIN documents d ON d.doc_id = c.doc_id"
)
