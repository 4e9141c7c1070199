"""The catalog's SQLite connection (one per thread, WAL), its transactions and its settings."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from orgkb.server.store.schema import SCHEMA, SCHEMA_VERSION, migrate


class CatalogConnection:
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
