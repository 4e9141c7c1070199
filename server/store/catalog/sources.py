"""Per-source sync state (cursor, last run, failures) and forgetting a source."""

from __future__ import annotations

import json
import time

from orgkb.connectors.base import Failure
from orgkb.server.store.catalog.connection import CatalogConnection
from orgkb.server.store.catalog.permissions import PERMISSION_TABLES
from orgkb.server.store.records import (
    SourceState,
)


class SourceRecords(CatalogConnection):
    """What each source's last sync did."""

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
