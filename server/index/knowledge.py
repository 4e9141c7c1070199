"""The knowledge index: the catalog, the vector store and the embedder, opened together.

Everything heavy (torch, the model, Chroma) is opened on first use, so a server holding a
`KnowledgeIndex` starts instantly and can warm it up in the background.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from orgkb.server.store.catalog import Catalog
from orgkb.server.config import OrgkbConfig
from orgkb.server.embedding.embedder import Embedder, create_embedder
from orgkb.server.store.schema import VECTOR_METADATA_OUTDATED
from orgkb.server.store.vectors import ChromaStore
from orgkb.server.store.filters import vector_metadata

log = logging.getLogger(__name__)


class KnowledgeIndex:
    """Catalog + vectors + embedder for one config. Thread-safe to open."""

    def __init__(self, config: OrgkbConfig, embedder: Embedder | None = None, store: ChromaStore | None = None) -> None:
        self.config = config
        self.data_dir: Path = config.data_dir
        self.embedder: Embedder = embedder or create_embedder(config.embedding)
        self.store = store or ChromaStore(config.store, self.data_dir)
        self._catalog: Catalog | None = None
        self._open_lock = threading.Lock()
        self._opened = False

    @property
    def catalog(self) -> Catalog:
        """The SQLite catalog (cheap to open; no model needed)."""
        if self._catalog is None:
            with self._open_lock:
                if self._catalog is None:
                    self._catalog = Catalog(self.data_dir / "catalog.sqlite3")
        return self._catalog

    def close(self) -> None:
        """Release the vector store and this thread's catalog connection; `open` works again after."""
        with self._open_lock:
            self.store.close()
            self._opened = False
        if self._catalog is not None:
            self._catalog.close()

    def open(self, *, recreate: bool = False) -> None:
        """Load the model and open the vector store, checking the model matches the index.

        With ``recreate`` (a full re-index) an index built with another model is dropped.
        """
        with self._open_lock:
            if self._opened and not recreate:
                return
            model_id = self.embedder.model_id
            dimension = self.embedder.dimension
            catalog = self._catalog or Catalog(self.data_dir / "catalog.sqlite3")
            self._catalog = catalog
            stored = catalog.get_meta("embedding_model")
            if recreate and stored is not None and stored != model_id:
                log.warning("embedding model changed from %s to %s: dropping the old index", stored, model_id)
                # The catalog goes first: a crash before the vectors are dropped leaves orphan
                # vectors (never shown, removed by `orgkb verify --repair`), whereas the other
                # order would leave documents whose unchanged hash stops them being embedded again.
                catalog.clear()
            self.store.open(model_id, dimension, recreate=recreate and stored != model_id)
            if stored != model_id:
                catalog.set_meta("embedding_model", model_id)
            if catalog.get_meta(VECTOR_METADATA_OUTDATED):
                self._refresh_vector_metadata(catalog)
            self._opened = True

    def _refresh_vector_metadata(self, catalog: Catalog) -> None:
        """Give vectors written before an upgrade the metadata filters use now (no re-embedding)."""
        log.info("updating vector metadata after a catalog upgrade")
        after: str | None = None
        while documents := catalog.list_documents(after=after, limit=500):
            ids: list[str] = []
            metadatas: list[dict[str, object]] = []
            for document in documents:
                metadata = vector_metadata(
                    document.doc_id, document.source, document.file_type, document.modified, document.metadata
                )
                chunk_ids = [c.chunk_id for c in catalog.document_chunks(document.doc_id)]
                ids.extend(chunk_ids)
                metadatas.extend([metadata] * len(chunk_ids))
            if ids:
                self.store.update_metadata(ids, metadatas)
            after = documents[-1].doc_id
        catalog.delete_meta(VECTOR_METADATA_OUTDATED)

    @property
    def max_chunk_tokens(self) -> int:
        """The chunk budget: the configured size, never above what the model reads."""
        limit = self.embedder.max_tokens
        configured = self.config.chunking.max_tokens
        return min(configured, limit) if configured else limit
