"""Vectors in Chroma: embedded (PersistentClient) by default, a Chroma server by config.

We always pass our own vectors and never let Chroma embed: its default embedding function
downloads a model, and its sentence-transformers function pins an absolute model path into the
collection. The model identity is stored in the collection's metadata so an index built with
one model is never queried with another.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from orgkb.server.config import StoreConfig
from orgkb.server.errors import IndexMismatchError, OrgkbError

log = logging.getLogger(__name__)

ChromaWhere = dict[str, Any]


class ChromaStore:
    """One Chroma collection holding a vector per chunk, with filterable metadata."""

    def __init__(self, config: StoreConfig, data_dir: Path) -> None:
        self._config = config
        self._data_dir = data_dir
        self._client: Any = None
        self._collection: Any = None

    def _connect(self) -> Any:
        if self._client is not None:
            return self._client
        # Chroma's telemetry would try the network on every start; this is an offline tool.
        os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
        import chromadb
        from chromadb.config import Settings

        settings = Settings(anonymized_telemetry=False, allow_reset=False)
        if self._config.kind == "http":
            headers = dict(self._config.headers)
            if self._config.token_env:
                token = os.environ.get(self._config.token_env)
                if not token:
                    raise OrgkbError(f"store.token_env names {self._config.token_env}, which is not set")
                headers["Authorization"] = f"Bearer {token}"
            try:
                self._client = chromadb.HttpClient(
                    host=self._config.host,
                    port=self._config.port,
                    ssl=self._config.ssl,
                    headers=headers,
                    settings=settings,
                )
            except Exception as exc:  # noqa: BLE001 - chromadb raises various types for a down server
                scheme = "https" if self._config.ssl else "http"
                raise OrgkbError(
                    f"cannot reach the Chroma server at {scheme}://{self._config.host}:{self._config.port}: {exc}"
                ) from exc
        else:
            path = self._data_dir / "chroma"
            path.mkdir(parents=True, exist_ok=True)
            self._client = chromadb.PersistentClient(path=str(path), settings=settings)
        return self._client

    def open(self, model_id: str, dimension: int, *, recreate: bool = False) -> None:
        """Open (or create) the collection for ``model_id``.

        Raises `IndexMismatchError` when the collection was built with another model, unless
        ``recreate`` is set, in which case the old collection is dropped.
        """
        client = self._connect()
        name = self._config.collection
        existing = {c if isinstance(c, str) else c.name for c in client.list_collections()}
        if name in existing:
            collection = client.get_collection(name, embedding_function=None)
            stored_model = (collection.metadata or {}).get("embedding_model")
            stored_dim = (collection.metadata or {}).get("dimension")
            matches = stored_model == model_id and stored_dim == dimension
            if matches and not recreate:
                self._collection = collection
                return
            if not matches and not recreate:
                raise IndexMismatchError(
                    f"the index was built with embedding model {stored_model!r} ({stored_dim} dimensions) but the "
                    f"config names {model_id!r} ({dimension}); run `orgkb index --full` to re-index with it"
                )
            client.delete_collection(name)
        self._collection = client.create_collection(
            name,
            metadata={"embedding_model": model_id, "dimension": dimension, "created_by": "orgkb"},
            configuration={"hnsw": {"space": "cosine"}},
            embedding_function=None,
        )

    def stored_model(self) -> str | None:
        """The model the existing collection was built with, without opening it for writes."""
        client = self._connect()
        try:
            collection = client.get_collection(self._config.collection, embedding_function=None)
        except Exception:  # noqa: BLE001 - "does not exist" has no stable exception type across versions
            return None
        return (collection.metadata or {}).get("embedding_model")

    def close(self) -> None:
        """Release the client (an embedded Chroma keeps its files open until then); the next
        use connects again."""
        client, self._client, self._collection = self._client, None, None
        if client is not None:
            client.close()

    @property
    def collection(self) -> Any:
        if self._collection is None:
            raise OrgkbError("the vector store is not open")
        return self._collection

    def upsert(self, ids: Sequence[str], vectors: Sequence[Sequence[float]], metadatas: Sequence[dict[str, Any]]) -> None:
        """Write vectors (in batches Chroma accepts)."""
        limit = self._max_batch()
        for start in range(0, len(ids), limit):
            end = start + limit
            self.collection.upsert(
                ids=list(ids[start:end]), embeddings=[list(v) for v in vectors[start:end]], metadatas=list(metadatas[start:end])
            )

    def update_metadata(self, ids: Sequence[str], metadatas: Sequence[dict[str, Any]]) -> None:
        """Change some metadata keys of existing vectors (a None value removes the key); vectors stay."""
        limit = self._max_batch()
        for start in range(0, len(ids), limit):
            self.collection.update(ids=list(ids[start : start + limit]), metadatas=list(metadatas[start : start + limit]))

    def delete(self, ids: Sequence[str]) -> None:
        """Remove vectors by id (unknown ids are ignored)."""
        limit = self._max_batch()
        for start in range(0, len(ids), limit):
            self.collection.delete(ids=list(ids[start : start + limit]))

    def query(self, vector: Sequence[float], limit: int, where: ChromaWhere | None) -> list[tuple[str, float]]:
        """Nearest chunks as ``(id, similarity)``, similarity = 1 - cosine distance.

        Chroma 1.x answers a request for more results than it holds (or an empty collection)
        with what it has, so no `count()` round trip is spent first: it cost ~5 ms a query.
        """
        result = self.collection.query(
            query_embeddings=[list(vector)],
            n_results=limit,
            where=where or None,
            include=["distances"],
        )
        ids = result["ids"][0]
        distances = result["distances"][0]
        return [(i, 1.0 - float(d)) for i, d in zip(ids, distances, strict=True)]

    def count(self) -> int:
        """Vectors in the collection."""
        return int(self.collection.count())

    # --- verification ---------------------------------------------------------------------

    def open_existing(self) -> dict[str, Any] | None:
        """Open the configured collection as it is, without a model (for `orgkb verify`).

        Returns the collection's metadata (``embedding_model``, ``dimension``), or None when
        there is no collection yet.
        """
        client = self._connect()
        existing = {c if isinstance(c, str) else c.name for c in client.list_collections()}
        if self._config.collection not in existing:
            return None
        self._collection = client.get_collection(self._config.collection, embedding_function=None)
        return dict(self._collection.metadata or {})

    def metadata_pages(self, size: int = 2000) -> Iterator[list[tuple[str, dict[str, Any]]]]:
        """Every ``(id, metadata)`` in the collection, ``size`` at a time (memory stays bounded).

        Offsets shift when the collection changes meanwhile: read while nothing writes it.
        """
        offset = 0
        while True:
            page = self.collection.get(limit=size, offset=offset, include=["metadatas"])
            ids = page["ids"]
            if not ids:
                return
            yield list(zip(ids, [m or {} for m in page["metadatas"]], strict=True))
            offset += len(ids)

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        """The ids among ``ids`` that have a vector."""
        found: set[str] = set()
        limit = self._max_batch()
        for start in range(0, len(ids), limit):
            found.update(self.collection.get(ids=list(ids[start : start + limit]), include=[])["ids"])
        return found

    def _max_batch(self) -> int:
        getter = getattr(self._client, "get_max_batch_size", None)
        try:
            return max(1, min(int(getter()), 5000)) if getter else 1000
        except Exception:  # noqa: BLE001 - older servers lack the endpoint
            return 1000
