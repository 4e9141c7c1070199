"""The keys a full listing yielded, kept on disk instead of in memory.

A full sync must remember every key it saw to find the documents that are gone. For a table
of millions of rows a Python set of keys costs hundreds of megabytes, so the keys go into a
private temporary SQLite database (deleted when closed) and the documents that were not seen
are found by one anti-join against the catalog.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

_FLUSH_EVERY = 2000


class SeenKeys:
    """A disk-backed set of document keys for one sync of one source."""

    def __init__(self, catalog_path: Path) -> None:
        self.catalog_path = catalog_path
        # An empty name opens a private temporary database that SQLite removes on close.
        self._db = sqlite3.connect("", isolation_level=None)
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("CREATE TABLE seen (key TEXT PRIMARY KEY) WITHOUT ROWID")
        self._pending: list[tuple[str]] = []

    def add(self, key: str) -> None:
        """Remember that the listing yielded ``key``."""
        self._pending.append((key,))
        if len(self._pending) >= _FLUSH_EVERY:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR IGNORE INTO seen(key) VALUES (?)", self._pending)
            self._db.execute("COMMIT")
            self._pending = []

    def unseen(self, source: str, batch: int = 500) -> Iterator[list[str]]:
        """Keys of ``source``'s indexed documents that were not seen, ``batch`` at a time."""
        self._flush()
        self._db.execute("ATTACH DATABASE ? AS catalog", (str(self.catalog_path),))
        try:
            # Read to the end before yielding: the caller deletes from the catalog meanwhile.
            cursor = self._db.execute(
                "SELECT d.key FROM catalog.documents d WHERE d.source = ?"
                " AND NOT EXISTS (SELECT 1 FROM seen s WHERE s.key = d.key)",
                (source,),
            )
            gone = [key for (key,) in cursor]
        finally:
            self._db.execute("DETACH DATABASE catalog")
        for start in range(0, len(gone), batch):
            yield gone[start : start + batch]

    def close(self) -> None:
        """Drop the temporary database."""
        self._db.close()
