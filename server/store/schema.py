"""The catalog's SQLite schema, and upgrading a catalog written by an older orgkb in place,
without embedding anything again.

Version 2 added document-level BM25 (``documents_fts``): it is filled from the documents the
catalog already holds, so an existing index keeps working after an upgrade.

Version 3 made the lexical index language-aware: each chunk records its language, every
document its ``language`` metadata, and the FTS5 tables hold text analysed per language
(`server.store.lexical`) under a plain ``unicode61`` tokenizer instead of English ``porter``.
Upgrading detects the languages and rebuilds both FTS tables from the stored text; vectors are
kept (their metadata gains ``m_language`` on the next open, see `server.index.knowledge`).
Version 4 keeps what a failure is: deliberately skipped or failed, one document or a folder
(``failures.skipped`` and ``failures.scope``); the next sync of each source refreshes them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from orgkb.connectors.base import Document, Section
from orgkb.server.errors import OrgkbError
from orgkb.server.language.detection import document_languages
from orgkb.server.store.lexical import ChunkText, lexical_rows

if TYPE_CHECKING:
    from orgkb.server.store.catalog import Catalog

SCHEMA_VERSION = 4
# Set when vectors predate the `language` metadata; cleared once their metadata is updated.
VECTOR_METADATA_OUTDATED = "vector_metadata_outdated"

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
    anchor TEXT,
    language TEXT
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id, ordinal);
-- The FTS tables hold analysed text (folded, stemmed per language; see server.store.lexical).
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(title, heading, body, tokenize = 'unicode61');
-- Keyed by documents.rowid, which stays put as long as nothing runs VACUUM on this file.
CREATE VIRTUAL TABLE IF NOT EXISTS documents_fts USING fts5(title, body, tokenize = 'unicode61');
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
-- Principals refused a document whatever else allows them (NTFS deny entries): deny wins.
CREATE TABLE IF NOT EXISTS document_denied (
    doc_id TEXT NOT NULL,
    principal TEXT NOT NULL,
    PRIMARY KEY (doc_id, principal)
) WITHOUT ROWID;
"""

# Indexes on columns an older schema lacks: created once the migration has added them.
LATE_INDEXES = "CREATE INDEX IF NOT EXISTS chunks_language ON chunks(language);"

_FTS_TABLES = {
    "chunks_fts": "CREATE VIRTUAL TABLE chunks_fts USING fts5(title, heading, body, tokenize = 'unicode61')",
    "documents_fts": "CREATE VIRTUAL TABLE documents_fts USING fts5(title, body, tokenize = 'unicode61')",
}


def migrate(catalog: Catalog, current: int) -> None:
    """Bring ``catalog`` up to schema ``current``; refuse one written by a newer orgkb."""
    stored = int(catalog.get_meta("schema_version") or current)
    if stored > current:
        raise OrgkbError(
            f"the catalog {catalog.path} was written by a newer orgkb (schema {stored}); "
            "upgrade orgkb, or index into a new data_dir"
        )
    if stored < 3:
        # Also covers version 1 (no documents_fts yet): both tables are built from scratch.
        _rebuild_lexical_index(catalog)
    if stored < 4:
        with catalog.transaction() as tx:
            columns = {row["name"] for row in tx.execute("PRAGMA table_info(failures)").fetchall()}
            if "skipped" not in columns:
                tx.execute("ALTER TABLE failures ADD COLUMN skipped INTEGER NOT NULL DEFAULT 0")
            if "scope" not in columns:
                tx.execute("ALTER TABLE failures ADD COLUMN scope TEXT NOT NULL DEFAULT 'document'")
    if stored != current:
        with catalog.transaction() as tx:
            tx.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(current),))
    with catalog.transaction() as tx:
        tx.execute(LATE_INDEXES)


def _rebuild_lexical_index(catalog: Catalog) -> None:
    """Detect each document's and chunk's language and refill the FTS tables, analysed, in one transaction."""
    with catalog.transaction() as tx:
        columns = {row["name"] for row in tx.execute("PRAGMA table_info(chunks)")}
        if "language" not in columns:
            tx.execute("ALTER TABLE chunks ADD COLUMN language TEXT")
        for table, create in _FTS_TABLES.items():
            tx.execute(f"DROP TABLE IF EXISTS {table}")
            tx.execute(create)
        rows = tx.execute("SELECT rowid, doc_id, source, key, title, uri, metadata, sections FROM documents").fetchall()
        for row in rows:
            sections = [Section.model_validate(s) for s in json.loads(row["sections"])]
            document = Document(source=row["source"], key=row["key"], title=row["title"], uri=row["uri"], sections=sections)
            metadata = json.loads(row["metadata"])
            chunks = tx.execute(
                "SELECT rowid, text, heading_path FROM chunks WHERE doc_id = ? ORDER BY ordinal", (row["doc_id"],)
            ).fetchall()
            text = document.text
            languages = document_languages(text, [c["text"] for c in chunks], declared=metadata.get("language"))
            metadata.setdefault("language", languages.document)
            tx.execute(
                "UPDATE documents SET metadata = ? WHERE rowid = ?", (json.dumps(metadata, ensure_ascii=False), row["rowid"])
            )
            texts = [
                ChunkText(c["text"], json.loads(c["heading_path"]), language)
                for c, language in zip(chunks, languages.chunks, strict=True)
            ]
            lexical = lexical_rows(document.title, text, languages.document, texts)
            tx.execute("INSERT INTO documents_fts(rowid, title, body) VALUES (?,?,?)", (row["rowid"], *lexical.document))
            for chunk, language, fts_row in zip(chunks, languages.chunks, lexical.chunks, strict=True):
                tx.execute("UPDATE chunks SET language = ? WHERE rowid = ?", (language, chunk["rowid"]))
                tx.execute("INSERT INTO chunks_fts(rowid, title, heading, body) VALUES (?,?,?,?)", (chunk["rowid"], *fts_row))
        if rows:
            tx.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, '1')", (VECTOR_METADATA_OUTDATED,))
