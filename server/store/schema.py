"""The catalog's SQLite schema, and upgrading a catalog written by an older orgkb in place,
without embedding anything again.

Version 2 added document-level BM25 (``documents_fts``): it is filled from the documents the
catalog already holds, so an existing index keeps working after an upgrade.
Version 3 keeps what a failure is: deliberately skipped or failed, one document or a folder
(``failures.skipped`` and ``failures.scope``); the next sync of each source refreshes them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from orgkb.connectors.base import Document, Section
from orgkb.server.errors import OrgkbError

if TYPE_CHECKING:
    from orgkb.server.store.catalog import Catalog

SCHEMA_VERSION = 3

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    key TEXT NOT NULL,
    title TEXT NOT NULL,
    uri TEXT NOT NULL,
    mime_type TEXT NOT NULL,
    file_type TEXT NOT NULL,
    modified REAL,
    version TEXT,
    content_hash TEXT NOT NULL,
    metadata TEXT NOT NULL,
    sections TEXT NOT NULL,
    chunk_count INTEGER NOT NULL,
    indexed_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_source_key ON documents(source, key);
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY,
    chunk_id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    heading_path TEXT NOT NULL,
    line_start INTEGER,
    line_end INTEGER,
    page INTEGER,
    anchor TEXT
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id, ordinal);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    title, heading, body, tokenize = 'porter unicode61 remove_diacritics 2'
);
-- Keyed by documents.rowid, which stays put as long as nothing runs VACUUM on this file.
CREATE VIRTUAL TABLE IF NOT EXISTS documents_fts USING fts5(
    title, body, tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TABLE IF NOT EXISTS sources (
    name TEXT PRIMARY KEY,
    cursor TEXT,
    last_sync REAL,
    last_full_sync REAL,
    last_error TEXT,
    last_summary TEXT
);
CREATE TABLE IF NOT EXISTS failures (
    source TEXT NOT NULL,
    key TEXT NOT NULL,
    message TEXT NOT NULL,
    at REAL NOT NULL,
    skipped INTEGER NOT NULL DEFAULT 0,
    scope TEXT NOT NULL DEFAULT 'document',
    PRIMARY KEY (source, key)
);
CREATE TABLE IF NOT EXISTS pending_vectors (chunk_id TEXT PRIMARY KEY);
-- Who may read each document (captured at the source; see connectors/permissions.py): one row
-- per allowed principal ("user:x", "group:y", "*"). A document with a `document_permissions` row
-- and no `document_access` rows is for administrators only; one without either predates
-- permission capture and is treated the same until its next sync records them.
CREATE TABLE IF NOT EXISTS document_permissions (doc_id TEXT PRIMARY KEY, rule TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS document_access (
    doc_id TEXT NOT NULL,
    principal TEXT NOT NULL,
    PRIMARY KEY (doc_id, principal)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS document_access_principal ON document_access(principal, doc_id);
"""


def migrate(catalog: Catalog, current: int) -> None:
    """Bring ``catalog`` up to schema ``current``; refuse one written by a newer orgkb."""
    stored = int(catalog.get_meta("schema_version") or current)
    if stored > current:
        raise OrgkbError(
            f"the catalog {catalog.path} was written by a newer orgkb (schema {stored}); "
            "upgrade orgkb, or index into a new data_dir"
        )
    if stored < 2:
        with catalog.transaction() as tx:
            tx.execute("DELETE FROM documents_fts")
            for row in tx.execute("SELECT rowid, source, key, title, uri, sections FROM documents").fetchall():
                sections = [Section.model_validate(s) for s in json.loads(row["sections"])]
                document = Document(source=row["source"], key=row["key"], title=row["title"], uri=row["uri"], sections=sections)
                tx.execute(
                    "INSERT INTO documents_fts(rowid, title, body) VALUES (?,?,?)",
                    (row["rowid"], document.title, document.text),
                )
    if stored < 3:
        with catalog.transaction() as tx:
            columns = {row["name"] for row in tx.execute("PRAGMA table_info(failures)").fetchall()}
            if "skipped" not in columns:
                tx.execute("ALTER TABLE failures ADD COLUMN skipped INTEGER NOT NULL DEFAULT 0")
            if "scope" not in columns:
                tx.execute("ALTER TABLE failures ADD COLUMN scope TEXT NOT NULL DEFAULT 'document'")
    if stored != current:
        with catalog.transaction() as tx:
            tx.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(current),))
