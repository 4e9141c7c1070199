"""Indexed chunks, and the vector ids that wait to be deleted from the vector store."""

from __future__ import annotations

from orgkb.server.store.catalog.connection import CatalogConnection
from orgkb.server.store.records import (
    StoredChunk,
    stored_chunk,
)

_CHUNK_SELECT = (
    "SELECT c.*, d.source, d.key, d.title, d.uri, d.file_type, d.modified FROM chunks c"
    " JOIN documents d ON d.doc_id = c.doc_id"
)


class ChunkRecords(CatalogConnection):
    """Chunks with their document's fields, languages, and pending vector ids."""

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
