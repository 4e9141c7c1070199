"""`orgkb verify`: check the catalog, the vectors and the keyword indexes against each other.

The write protocol (see `orgkb.server.store.catalog`) promises, at every instant and so also
right after a crash:

- every catalog chunk has a vector, with the catalog's doc_id and source as metadata, and the
  readers and denied principals its document's permissions record;
- every vector that is no catalog chunk is recorded in ``pending_vectors`` (the next index run
  deletes it);
- the FTS5 tables hold exactly one row per chunk and per document, with their text;
- each document's ``chunk_count`` is the number of its chunks, one per position.

A violation of any of these is a *problem*. Vectors awaiting cleanup are not: they are what an
interrupted run is allowed to leave, and are reported apart (``pending_*``). Optionally the
index is also compared with the sources themselves (``--sources``), which finds what a sync has
not picked up yet; that reads every document, and what it finds are problems too (documents
that cannot be read now are only noted).

Lists hold what is wrong, never the whole index: catalog and vector ids are read in pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field, computed_field

from orgkb.connectors.base import Connector, ConnectorError, Failure, SourceConfig
from orgkb.connectors.registry import open_connector
from orgkb.connectors.identifiers import chunk_id, doc_id
from orgkb.server.index.knowledge import KnowledgeIndex
from orgkb.server.store.catalog import Catalog
from orgkb.server.store.filters import acl_metadata
from orgkb.server.store.seen_keys import SeenKeys

Kind = Literal[
    "model_mismatch",
    "missing_vector",
    "orphan_vector",
    "vector_metadata",
    "vector_permissions",
    "chunk_without_document",
    "duplicate_chunk",
    "chunk_count",
    "chunk_fts_missing",
    "chunk_fts_stale",
    "chunk_fts_orphan",
    "document_fts_missing",
    "document_fts_orphan",
    "source_error",
    "source_unindexed",
    "source_removed",
    "source_changed",
    "source_unreadable",
    "pending_cleanup",
    "pending_current",
]

# kind -> (what is wrong, what --repair does; None: it cannot)
DESCRIPTIONS: dict[str, tuple[str, str | None]] = {
    "model_mismatch": ("the vector collection was built with another model than the catalog records", None),
    "missing_vector": ("catalog chunks without a vector (search by meaning cannot find them)", "re-embedded from the catalog's text"),
    "orphan_vector": ("vectors of no catalog chunk, not recorded as pending", "deleted"),
    "vector_metadata": ("vectors whose doc_id/source disagree with the catalog (filters miss them)", "re-embedded with the catalog's metadata"),
    "vector_permissions": (
        "vectors whose readers disagree with the catalog's permissions (search by meaning would hide or offer them wrongly)",
        "given the catalog's permissions (nothing re-embedded)",
    ),
    "chunk_without_document": ("chunks whose document is not in the catalog", "removed with their vectors"),
    "duplicate_chunk": ("extra chunks at a document position another chunk holds", "removed with their vectors (the chunk of the current content stays)"),
    "chunk_count": ("documents whose chunk_count differs from their stored chunks", "recounted"),
    "chunk_fts_missing": ("chunks missing from the keyword index (chunks_fts)", "rebuilt from the catalog's text"),
    "chunk_fts_stale": ("chunks whose keyword index row holds other text", "rebuilt from the catalog's text"),
    "chunk_fts_orphan": ("chunks_fts rows of no chunk", "deleted"),
    "document_fts_missing": ("documents missing from the document keyword index (documents_fts)", "rebuilt from the catalog's text"),
    "document_fts_orphan": ("documents_fts rows of no document", "deleted"),
    "source_error": ("sources that could not be listed", None),
    "source_unindexed": ("documents a source lists that are not indexed", None),
    "source_removed": ("indexed documents their source no longer lists", None),
    "source_changed": ("indexed documents whose content changed in the source", None),
    "source_unreadable": ("indexed documents that could not be read now to compare (a sync keeps their indexed version)", None),
    "pending_cleanup": ("vector ids an interrupted run left for cleanup (the next index run deletes them)", "deleted"),
    "pending_current": ("pending records of current chunks (an interrupted rewrite of the same content)", "re-embedded, record cleared"),
}
NOT_PROBLEMS = frozenset({"pending_cleanup", "pending_current", "source_unreadable"})
SOURCE_KINDS = frozenset({"source_error", "source_unindexed", "source_removed", "source_changed", "source_unreadable"})
EXAMPLES = 10


class Finding(BaseModel):
    """One kind of inconsistency and every item it concerns (ids, or FTS rowids as text)."""

    kind: Kind
    items: list[str] = Field(exclude=True)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def count(self) -> int:
        return len(self.items)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def description(self) -> str:
        return DESCRIPTIONS[self.kind][0]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def repair(self) -> str | None:
        """What `--repair` does about it (None: it cannot; the report says what to run)."""
        return DESCRIPTIONS[self.kind][1]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def examples(self) -> list[str]:
        return self.items[:EXAMPLES]

    @property
    def is_problem(self) -> bool:
        """False for states the write protocol allows (vectors awaiting cleanup)."""
        return self.kind not in NOT_PROBLEMS


class VerifyReport(BaseModel):
    """What `orgkb verify` found (and, with ``--repair``, did)."""

    data_dir: str
    documents: int = 0
    chunks: int = 0
    vectors: int = 0
    sources_checked: bool = False
    findings: list[Finding] = Field(default_factory=list)
    repaired: list[str] = Field(default_factory=list, description="What --repair did, one line per action.")
    notes: list[str] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def consistent(self) -> bool:
        """True when nothing but vectors awaiting cleanup (or unreadable source documents) was found."""
        return not self.problems

    @property
    def problems(self) -> list[Finding]:
        """The findings that break an invariant (or, with ``--sources``, show the index behind)."""
        return [f for f in self.findings if f.is_problem]

    def items(self, kind: Kind) -> list[str]:
        """Every item of one kind of finding (empty when there is none)."""
        return next((f.items for f in self.findings if f.kind == kind), [])


def check_index(index: KnowledgeIndex, *, recheck: bool = False) -> VerifyReport:
    """Compare catalog, vectors and keyword indexes; ``recheck`` confirms vector findings once
    more (for a check made while another process writes: differences in flight go away)."""
    catalog, store = index.catalog, index.store
    report = VerifyReport(data_dir=str(index.data_dir))
    found: dict[str, list[str]] = {}
    collection = store.open_existing()
    with catalog.snapshot():
        report.documents = sum(docs for docs, _ in catalog.counts().values())
        stored_model = catalog.get_meta("embedding_model")
        vector_model = (collection or {}).get("embedding_model")
        if stored_model and vector_model and stored_model != vector_model:
            found["model_mismatch"] = [f"vectors: {vector_model}, catalog: {stored_model}"]
        found["chunk_without_document"] = catalog.chunks_without_document()
        found["duplicate_chunk"] = _extra_duplicates(catalog)
        found["chunk_count"] = [d for d, _, _ in catalog.chunk_count_mismatches()]
        found["chunk_fts_missing"] = catalog.chunks_missing_fts()
        found["chunk_fts_stale"], stale_documents = catalog.stale_fts()
        found["chunk_fts_orphan"] = [str(r) for r in catalog.orphan_chunk_fts()]
        found["document_fts_missing"] = catalog.documents_missing_fts() + stale_documents
        found["document_fts_orphan"] = [str(r) for r in catalog.orphan_document_fts()]
        pending = catalog.pending_entries()
        found["pending_cleanup"] = [cid for cid, current in pending if not current]
        found["pending_current"] = [cid for cid, current in pending if current]
        missing: list[str] = []
        for page in catalog.chunk_id_pages():
            report.chunks += len(page)
            have = store.existing_ids(page) if collection is not None else set()
            missing.extend(cid for cid in page if cid not in have)
        found["missing_vector"] = missing
        if collection is not None:
            orphans, disagreeing, unpermitted = _check_vectors(index, report)
            found["orphan_vector"], found["vector_metadata"], found["vector_permissions"] = orphans, disagreeing, unpermitted
    if recheck and collection is not None:
        found["missing_vector"] = _still_missing(index, found["missing_vector"])
        found["orphan_vector"] = _still_orphans(index, found.get("orphan_vector", []))
    report.findings = [Finding(kind=kind, items=items) for kind, items in found.items() if items]  # type: ignore[arg-type]
    return report


def _extra_duplicates(catalog: Catalog) -> list[str]:
    """Of each document position held twice, every chunk but the one of the document's current
    content (the first stored, when none is): what `--repair` removes."""
    extra: list[str] = []
    for document_id, ordinal, ids in catalog.duplicate_chunks():
        state = catalog.document_state(document_id)
        expected = chunk_id(document_id, state[1], ordinal) if state else None
        keep = expected if expected in ids else ids[0]
        extra.extend(i for i in ids if i != keep)
    return extra


def _check_vectors(index: KnowledgeIndex, report: VerifyReport) -> tuple[list[str], list[str], list[str]]:
    """Read every vector's id and metadata in pages: ``(orphans, doc_id/source disagreeing,
    permissions disagreeing)``."""
    catalog = index.catalog
    orphans: list[str] = []
    disagreeing: list[str] = []
    unpermitted: list[str] = []
    for page in index.store.metadata_pages():
        report.vectors += len(page)
        owners = catalog.chunk_owners([vid for vid, _ in page])
        unknown = [vid for vid, _ in page if vid not in owners]
        recorded = catalog.pending_among(unknown)
        orphans.extend(vid for vid in unknown if vid not in recorded)
        expected: dict[str, dict[str, object]] = {}
        for vid, metadata in page:
            owner = owners.get(vid)
            # A chunk without a document is its own finding; its vector has nothing to agree with.
            if owner is None or owner[1] is None:
                continue
            if (metadata.get("doc_id"), metadata.get("source")) != owner:
                disagreeing.append(vid)
                continue
            if owner[0] not in expected:
                expected[owner[0]] = _acl_of(catalog, owner[0])
            if any(metadata.get(key) != value for key, value in expected[owner[0]].items()):
                unpermitted.append(vid)
    return orphans, disagreeing, unpermitted


def _acl_of(catalog: Catalog, document_id: str) -> dict[str, object]:
    """The permission metadata a document's vectors must carry, as `acl_metadata` writes it."""
    permissions = catalog.permissions_of(document_id)
    if permissions is None:
        return acl_metadata(None)
    return acl_metadata(permissions.principals, permissions.denied)


def _still_missing(index: KnowledgeIndex, chunk_ids: list[str]) -> list[str]:
    current = index.catalog.chunk_owners(chunk_ids)
    have = index.store.existing_ids(chunk_ids) if chunk_ids else set()
    return [cid for cid in chunk_ids if cid in current and cid not in have]


def _still_orphans(index: KnowledgeIndex, vector_ids: list[str]) -> list[str]:
    if not vector_ids:
        return []
    current = index.catalog.chunk_owners(vector_ids)
    recorded = index.catalog.pending_among(vector_ids)
    have = index.store.existing_ids(vector_ids)
    return [vid for vid in vector_ids if vid in have and vid not in current and vid not in recorded]


# --- against the sources ------------------------------------------------------------------


def check_sources(index: KnowledgeIndex, names: Sequence[str] | None = None) -> list[Finding]:
    """Compare the index with what the sources hold now: unindexed, removed and changed
    documents (every document is read to compare its content hash)."""
    config = index.config
    found: dict[str, list[str]] = {kind: [] for kind in sorted(SOURCE_KINDS)}
    for source in [config.source(n) for n in names] if names else config.sources:
        try:
            _compare_source(index, source, found)
        except ConnectorError as exc:
            found["source_error"].append(f"{source.name}: {exc}")
    return [Finding(kind=kind, items=items) for kind, items in found.items() if items]  # type: ignore[arg-type]


def _compare_source(index: KnowledgeIndex, source: SourceConfig, found: dict[str, list[str]]) -> None:
    with open_connector(source) as connector:
        _compare_listing(index, connector, source, found)


def _compare_listing(index: KnowledgeIndex, connector: Connector, source: SourceConfig, found: dict[str, list[str]]) -> None:
    catalog = index.catalog
    # Documents that failed to read are known (`orgkb status` lists them), not unindexed.
    known_failures = {f.key for f in catalog.failures(source.name)}
    unlisted_folders: list[str] = []
    seen = SeenKeys(catalog.path)
    try:
        for item in connector.list_documents():
            seen.add(item.key)
            if isinstance(item, Failure):
                if item.scope == "folder":
                    unlisted_folders.append(item.key)  # its documents cannot be told gone
                continue
            document_id = doc_id(source.name, item.key)
            stored = catalog.document_state(document_id)
            if stored is None:
                if item.key not in known_failures:
                    found["source_unindexed"].append(document_id)
                continue
            try:
                document = item.document if item.document is not None else connector.load(item)
            except ConnectorError:
                raise
            except Exception as exc:  # noqa: BLE001 - one unreadable document never stops the check
                found["source_unreadable"].append(f"{document_id}: {exc}")
                continue
            if document.content_hash != stored[1]:
                found["source_changed"].append(document_id)
        for keys in seen.unseen(source.name):
            found["source_removed"].extend(
                doc_id(source.name, key) for key in keys if not any(key.startswith(p) for p in unlisted_folders)
            )
    finally:
        seen.close()
