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

from orgkb.server.store.catalog.chunks import ChunkRecords
from orgkb.server.store.catalog.documents import DocumentRecords
from orgkb.server.store.catalog.permissions import PERMISSION_TABLES, readable_by
from orgkb.server.store.catalog.sources import SourceRecords
from orgkb.server.store.catalog.verification import VerificationQueries
from orgkb.server.store.records import (
    DocumentWrite,
    SourceState,
    StoredChunk,
    StoredDocument,
    file_type_of,
)

__all__ = [
    "PERMISSION_TABLES", "Catalog", "DocumentWrite", "SourceState", "StoredChunk", "StoredDocument", "file_type_of", "readable_by",
]


class Catalog(DocumentRecords, ChunkRecords, SourceRecords, VerificationQueries):
    """SQLite catalog; one connection per thread, WAL so readers never wait for the indexer.

    Each concept's queries live in their own module; this class only puts them together.
    """
