"""The indexing pipeline: connector → documents → (skip if unchanged) → chunks → vectors → index.

Incremental by construction: a document whose version stamp is unchanged is not even loaded;
one whose content hash is unchanged is not chunked or embedded. Documents a complete listing
no longer contains are deleted. A failure to read one document is recorded and the previous
indexed version is kept; a source that cannot be listed changes nothing at all.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Protocol

from pydantic import BaseModel, Field

from orgkb.connectors.base import (
    Connector,
    ConnectorError,
    CursorExpired,
    Document,
    DocumentError,
    DocumentRef,
    Failure,
    IncrementalConnector,
    SourceConfig,
)
from orgkb.connectors.permissions import Permissions
from orgkb.connectors.identifiers import doc_id
from orgkb.connectors.registry import open_connector
from orgkb.connectors.limits import DEFAULT_LIMITS, DocumentLimits, check_chunk_count, check_text_size, limits_of
from orgkb.server.store.catalog import DocumentWrite, file_type_of
from orgkb.server.index.chunking import chunk_document
from orgkb.server.errors import OrgkbError
from orgkb.server.identity.directory import SidNames, open_directory
from orgkb.server.store.filters import vector_metadata
from orgkb.server.index.knowledge import KnowledgeIndex
from orgkb.server.index.permissions import Regrant, effective_permissions, refresh_permissions
from orgkb.server.store.seen_keys import SeenKeys
from orgkb.server.language.detection import document_languages
from orgkb.server.index.writer_lock import exclusive_writer

log = logging.getLogger(__name__)

BATCH_CHUNKS = 256
# Bumped when chunking changes how text is cut or joined, so existing indexes are re-chunked once.
CHUNKER_VERSION = 2
# Bumped when a format parser changes what it extracts from unchanged files (3: plain-text
# structure): sources are re-read once, and only documents whose content changed are embedded.
PARSER_VERSION = 3


class SourceSummary(BaseModel):
    """What one sync of one source did."""

    source: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    failed: int = 0
    skipped: int = 0
    chunks_embedded: int = 0
    seconds: float = 0.0
    incremental: bool = False
    error: str | None = None
    failures: list[Failure] = Field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """The counters alone, for storage and status."""
        return {
            k: getattr(self, k)
            for k in ("added", "updated", "unchanged", "deleted", "failed", "skipped", "chunks_embedded")
        }


class IndexSummary(BaseModel):
    """What an index run did, per source."""

    sources: list[SourceSummary] = Field(default_factory=list)

    def total(self, field: str) -> int:
        """Sum of one counter over all sources."""
        return sum(getattr(s, field) for s in self.sources)

    @property
    def ok(self) -> bool:
        """True when every source synced (individual document failures allowed)."""
        return all(s.error is None for s in self.sources)


class Progress(Protocol):
    """Receives progress while indexing (a CLI progress bar, MCP progress notifications)."""

    def start_source(self, source: str) -> None:
        """A source starts syncing."""

    def advance(self, source: str, documents: int, detail: str) -> None:
        """``documents`` more documents were handled; ``detail`` names the last one."""

    def end_source(self, summary: SourceSummary) -> None:
        """A source finished (or failed: see ``summary.error``)."""


class _NoProgress:
    def start_source(self, source: str) -> None:
        pass

    def advance(self, source: str, documents: int, detail: str) -> None:
        pass

    def end_source(self, summary: SourceSummary) -> None:
        pass


class IndexChange(BaseModel):
    """Documents of one source that one committed batch added, updated or deleted (doc ids)."""

    source: str
    added: list[str] = Field(default_factory=list)
    updated: list[str] = Field(default_factory=list)
    deleted: list[str] = Field(default_factory=list)
    deleted_permissions: dict[str, Permissions | None] = Field(
        default_factory=dict, description="Who could read each deleted document: only they hear it is gone."
    )
    regranted: dict[str, Permissions | None] = Field(
        default_factory=dict, description="Documents whose permissions alone changed, with those they had before."
    )


ChangeListener = Callable[[IndexChange], None]
"""Called after each committed batch with what it changed."""


class Indexer:
    """Runs syncs of configured sources into a `KnowledgeIndex`."""

    def __init__(
        self,
        index: KnowledgeIndex,
        progress: Progress | None = None,
        on_change: ChangeListener | None = None,
    ) -> None:
        self.index = index
        self.progress: Progress = progress or _NoProgress()
        self.on_change = on_change
        self._sid_names: SidNames | None | bool = False  # opened on first use (False: not yet)

    @property
    def sid_names(self) -> SidNames | None:
        """The `[identity]` directory when it names Windows SIDs (NTFS ACLs of SMB shares); an
        LDAP directory connects only when a document's permissions name a SID."""
        if self._sid_names is False:
            directory = open_directory(self.index.config.identity)
            self._sid_names = directory if isinstance(directory, SidNames) else None
        return self._sid_names  # type: ignore[return-value]

    def run(self, source_names: Iterable[str] | None = None, *, full: bool = False) -> IndexSummary:
        """Sync the named sources (all configured ones by default) and return what happened."""
        config = self.index.config
        names = list(source_names) if source_names else [s.name for s in config.sources]
        configs = [config.source(n) for n in names]
        summary = IndexSummary()
        with self._exclusive():
            self.index.open(recreate=full)
            self._clean_pending()
            # New chunking settings change every chunk: then everything is embedded again.
            reembed = self._pipeline_changed()
            for source_config in configs:
                parsers_key = f"parsers:{source_config.name}"
                reread = self.index.catalog.get_meta(parsers_key) != str(PARSER_VERSION)
                result = self._sync_source(source_config, full=full or reembed or reread, reembed=reembed)
                summary.sources.append(result)
                if reread and result.error is None:
                    self.index.catalog.set_meta(parsers_key, str(PARSER_VERSION))
            if source_names is None:
                self._forget_removed_sources({s.name for s in config.sources})
            if reembed and all(s.error is None for s in summary.sources):
                self.index.catalog.set_meta("pipeline", self._pipeline_signature())
        return summary

    # --- one source ---------------------------------------------------------------------

    def _sync_source(self, source_config: SourceConfig, *, full: bool, reembed: bool) -> SourceSummary:
        """Sync one source; ``full`` lists and re-reads everything (no cursor, no version stamps)
        but still embeds only documents whose content changed, unless ``reembed``."""
        summary = SourceSummary(source=source_config.name)
        self.progress.start_source(source_config.name)
        started = time.perf_counter()
        catalog = self.index.catalog
        try:
            with open_connector(source_config) as connector:
                self._sync_open(connector, source_config, summary, full=full, reembed=reembed, started=started)
        except (ConnectorError, OrgkbError) as exc:
            summary.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - a connector bug must not stop the other sources
            log.exception("source %s failed", source_config.name)
            summary.error = f"{type(exc).__name__}: {exc}"
        summary.seconds = time.perf_counter() - started
        if summary.error is not None:
            log.error("source %s: %s", source_config.name, summary.error)
            catalog.record_sync(
                source_config.name, cursor=None, full=False, error=summary.error,
                summary=summary.counts(), failures=None,
            )
        self.progress.end_source(summary)
        return summary

    def _sync_open(
        self, connector: Connector, source_config: SourceConfig, summary: SourceSummary, *,
        full: bool, reembed: bool, started: float,
    ) -> None:
        """Sync one source through its open connector: by change feed when it can, else in full."""
        catalog = self.index.catalog
        state = catalog.source_state(source_config.name)
        incremental = isinstance(connector, IncrementalConnector)
        if incremental and state.cursor and not full and not self._reconcile_due(source_config, state.last_full_sync):
            try:
                self._sync_changes(connector, state.cursor, summary)  # type: ignore[arg-type]
                summary.incremental = True
                return
            except CursorExpired as exc:
                # Raised before anything is written: a full sync reconciles instead.
                log.info("source %s: %s; running a full sync", source_config.name, exc)
        cursor = connector.initial_cursor() if incremental else None  # type: ignore[attr-defined]
        self._sync_full(connector, summary, reload=full, reembed=reembed)
        summary.seconds = time.perf_counter() - started
        catalog.record_sync(
            source_config.name, cursor=cursor, full=True, error=None, summary=summary.counts(), failures=summary.failures
        )

    @staticmethod
    def _reconcile_due(config: SourceConfig, last_full_sync: float | None) -> bool:
        """True when an incremental source is due for a full listing (see ``full_sync_interval``)."""
        if last_full_sync is None or config.full_sync_interval is None:
            return last_full_sync is None
        return time.time() - last_full_sync >= config.full_sync_interval

    def _sync_full(self, connector: Connector, summary: SourceSummary, *, reload: bool, reembed: bool) -> None:
        name = connector.config.name
        catalog = self.index.catalog
        # Keys seen go to a temporary table and stored states are looked up one at a time, so
        # memory does not grow with the source's size (a table of millions of rows).
        seen = SeenKeys(catalog.path)
        try:
            batch = _Batch(self, name, summary)
            unlisted_prefixes: list[str] = []
            for item in connector.list_documents():
                seen.add(item.key)
                if isinstance(item, Failure):
                    if item.scope == "folder":
                        # A folder that could not be listed: its documents are kept, not deleted.
                        unlisted_prefixes.append(item.key)
                    self._record_failure(item, summary)
                    continue
                stored = catalog.document_state(doc_id(name, item.key))
                self._handle_ref(connector, item, stored, batch, reload=reload, reembed=reembed)
            batch.flush()
            # Only a complete listing gets here (a ConnectorError skips it), so absence means deletion.
            for keys in seen.unseen(name):
                gone = [doc_id(name, key) for key in keys if not any(key.startswith(p) for p in unlisted_prefixes)]
                if gone:
                    batch.delete(gone)
                    batch.flush()
        finally:
            seen.close()

    def _sync_changes(self, connector: IncrementalConnector, cursor: str, summary: SourceSummary) -> None:
        name = connector.config.name
        change = connector.changes_since(cursor)
        catalog = self.index.catalog
        batch = _Batch(self, name, summary)
        for ref in change.updated:
            stored = catalog.document_state(doc_id(name, ref.key))
            self._handle_ref(connector, ref, stored, batch, reload=False, reembed=False)
        batch.delete([doc_id(name, key) for key in change.deleted if catalog.document_state(doc_id(name, key)) is not None])
        batch.flush()
        # The cursor moves only once every change up to it is safely in the index.
        failures = self.index.catalog.failures(name)
        handled = {r.key for r in change.updated} | set(change.deleted)
        kept = [f for f in failures if f.key not in handled] + summary.failures
        self.index.catalog.record_sync(
            name, cursor=change.cursor, full=False, error=None, summary=summary.counts(), failures=kept
        )

    def _handle_ref(
        self,
        connector: Connector,
        ref: DocumentRef,
        stored: tuple[str | None, str] | None,
        batch: _Batch,
        *,
        reload: bool,
        reembed: bool,
    ) -> None:
        name = connector.config.name
        unchanged_version = stored is not None and not reload and ref.version is not None and stored[0] == ref.version
        # A document indexed before permissions were captured is read once more to record them.
        recorded = self.index.catalog.permissions_of(doc_id(name, ref.key)) if unchanged_version else None
        if unchanged_version and recorded is not None:
            if ref.permissions is not None:
                # Changed at the source without a new version (an ACL edit): recorded, nothing loaded.
                captured = effective_permissions(ref.permissions, connector.config, self.sid_names)
                batch.regranted(refresh_permissions(self.index, doc_id(name, ref.key), captured, recorded))
            batch.summary.unchanged += 1
            self.progress.advance(name, 1, ref.key)
            return
        try:
            document = ref.document if ref.document is not None else connector.load(ref)
        except DocumentError as exc:
            failure = Failure(source=name, key=ref.key, message=str(exc), skipped=exc.skipped)
            self._record_failure(failure, batch.summary)
            return
        except ConnectorError:
            raise
        except Exception as exc:  # noqa: BLE001 - one unreadable document never aborts a run
            log.warning("%s: %s: unexpected error: %s", name, ref.key, exc, exc_info=True)
            self._record_failure(Failure(source=name, key=ref.key, message=f"{type(exc).__name__}: {exc}"), batch.summary)
            return
        if document.version is None:
            document = document.model_copy(update={"version": ref.version})
        permissions = effective_permissions(document.permissions, connector.config, self.sid_names)
        document = document.model_copy(update={"permissions": permissions})
        if connector.config.language and "language" not in document.metadata:
            # Declared in the config: part of the document, so changing it re-indexes the source.
            document = document.model_copy(update={"metadata": {**document.metadata, "language": connector.config.language}})
        if stored is not None and stored[1] == document.content_hash and not reembed:
            batch.summary.unchanged += 1
            batch.regranted(refresh_permissions(self.index, document.id, document.permissions))
            if stored[0] != document.version:
                self.index.catalog.set_version(document.id, document.version)
            self.progress.advance(name, 1, ref.key)
            return
        try:
            batch.add(document, is_new=stored is None, limits=limits_of(connector.config))
        except DocumentError as exc:  # over a limit: the previous version, if any, stays
            self._record_failure(Failure(source=name, key=ref.key, message=str(exc), skipped=exc.skipped), batch.summary)
            return
        self.progress.advance(name, 1, ref.key)

    def _record_failure(self, failure: Failure, summary: SourceSummary) -> None:
        summary.failures.append(failure)
        if failure.skipped:
            summary.skipped += 1
            log.info("%s: skipped %s: %s", failure.source, failure.key, failure.message)
        else:
            summary.failed += 1
            log.warning("%s: cannot index %s: %s", failure.source, failure.key, failure.message)
        self.progress.advance(failure.source, 1, failure.key)

    # --- housekeeping -------------------------------------------------------------------

    def _clean_pending(self) -> None:
        """Delete vectors left behind by an interrupted run (written but never confirmed)."""
        pending = self.index.catalog.pending_vectors()
        if pending:
            log.info("removing %d vectors left by an interrupted run", len(pending))
            self.index.store.delete(pending)
            self.index.catalog.clear_pending(pending)

    def _forget_removed_sources(self, configured: set[str]) -> None:
        for name in self.index.catalog.known_sources():
            if name not in configured:
                log.info("source %s is no longer configured: removing its documents", name)
                stale = self.index.catalog.forget_source(name)
                self.index.store.delete(stale)
                self.index.catalog.clear_pending(stale)

    def _pipeline_signature(self) -> str:
        embedding = self.index.config.embedding
        return f"chunker={CHUNKER_VERSION}|chunk_tokens={self.index.max_chunk_tokens}|doc_prefix={embedding.document_prefix}"

    def _pipeline_changed(self) -> bool:
        """True when chunking settings changed since the index was built: every document is redone."""
        stored = self.index.catalog.get_meta("pipeline")
        if stored is None:
            self.index.catalog.set_meta("pipeline", self._pipeline_signature())
            return False
        return stored != self._pipeline_signature()

    def _exclusive(self) -> AbstractContextManager[None]:
        """One writer per data directory at a time, across processes (see `server.writer_lock`)."""
        return exclusive_writer(self.index.data_dir)


class _Batch:
    """Documents waiting to be embedded and swapped in together (embedding is faster in bulk)."""

    def __init__(self, indexer: Indexer, source: str, summary: SourceSummary) -> None:
        self.indexer = indexer
        self.source = source
        self.summary = summary
        self.writes: list[DocumentWrite] = []
        self.new_flags: list[bool] = []
        self.deletes: list[str] = []
        self.regrants: dict[str, Permissions | None] = {}
        self.pending_chunks = 0

    def add(self, document: Document, *, is_new: bool, limits: DocumentLimits = DEFAULT_LIMITS) -> None:
        index = self.indexer.index
        check_text_size(list(document.sections), document.title, limits)
        chunks = chunk_document(document, index.embedder.count_tokens, index.max_chunk_tokens)
        check_chunk_count(len(chunks), limits)
        languages = document_languages(document.text, [c.text for c in chunks], declared=document.metadata.get("language"))
        for chunk, language in zip(chunks, languages.chunks, strict=True):
            chunk.language = language
        self.writes.append(DocumentWrite(document=document, chunks=chunks, language=languages.document))
        self.new_flags.append(is_new)
        self.pending_chunks += len(chunks)
        if self.pending_chunks >= BATCH_CHUNKS:
            self.flush()

    def delete(self, doc_ids: list[str]) -> None:
        self.deletes.extend(doc_ids)

    def regranted(self, change: Regrant | None) -> None:
        """Note a document whose permissions changed (already recorded): listeners hear of it."""
        if change is not None:
            self.regrants.setdefault(change.doc_id, change.before)

    def flush(self) -> None:
        if not self.writes and not self.deletes and not self.regrants:
            return
        index = self.indexer.index
        catalog, store = index.catalog, index.store
        chunks = [(w, c) for w in self.writes for c in w.chunks]
        ids = [c.id for _, c in chunks]
        if chunks:
            # Recorded first, so a crash between the two stores leaves ids a later run removes.
            catalog.add_pending(ids)
            # Embedded and stored a slice at a time: one document of thousands of chunks must
            # not hold all their texts, tensors and vectors in memory at once.
            for start in range(0, len(chunks), BATCH_CHUNKS):
                part = chunks[start : start + BATCH_CHUNKS]
                vectors = index.embedder.embed_documents([c.embedding_text(w.document.title) for w, c in part])
                metadatas = [write_vector_metadata(w) for w, _ in part]
                store.upsert(ids[start : start + BATCH_CHUNKS], vectors, metadatas)
        # Read before the write removes them: notifications of a deletion go to who could read it.
        gone = {d: catalog.permissions_of(d) for d in self.deletes}
        stale = catalog.write_documents(self.writes, self.deletes)
        if stale:
            store.delete(stale)
            catalog.clear_pending(stale)
        change = IndexChange(
            source=self.source,
            added=[w.document.id for w, new in zip(self.writes, self.new_flags, strict=True) if new],
            updated=[w.document.id for w, new in zip(self.writes, self.new_flags, strict=True) if not new],
            deleted=list(self.deletes),
            deleted_permissions=gone,
            regranted=dict(self.regrants),
        )
        self.summary.added += len(change.added)
        self.summary.updated += len(change.updated)
        self.summary.deleted += len(change.deleted)
        self.summary.chunks_embedded += len(ids)
        if self.indexer.on_change is not None:
            self.indexer.on_change(change)
        self.writes, self.new_flags, self.deletes, self.pending_chunks = [], [], [], 0
        self.regrants = {}


def write_vector_metadata(write: DocumentWrite) -> dict[str, object]:
    """The vector metadata of each chunk of ``write``: its document's, with the detected language."""
    d = write.document
    metadata = {"language": write.language, **d.metadata} if write.language else d.metadata
    principals, denied = (d.permissions.principals, d.permissions.denied) if d.permissions else (None, frozenset())
    return vector_metadata(d.id, d.source, file_type_of(d), d.modified.timestamp() if d.modified else None, metadata, principals, denied)
