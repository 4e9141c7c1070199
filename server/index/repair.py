"""`orgkb verify --repair`: fix what `check_index` found, with the same write protocol as the indexer.

Catalog rows are removed with their vector ids recorded as pending in the same transaction,
and the vectors deleted after it, so a repair interrupted at any point leaves an index that
verifies (or that the next repair or index run finishes). Missing vectors are embedded again
from the catalog's text with the configured model. The caller holds the writer lock.
"""

from __future__ import annotations

from orgkb.server.store.records import Chunk
from orgkb.server.index.knowledge import KnowledgeIndex
from orgkb.server.index.verify import VerifyReport
from orgkb.server.store.filters import acl_metadata, vector_metadata

EMBED_BATCH = 256


def repair_index(index: KnowledgeIndex, report: VerifyReport) -> list[str]:
    """Fix the repairable findings of ``report`` (made under the same writer lock); return
    one line per action taken."""
    catalog, store = index.catalog, index.store
    done: list[str] = []
    has_collection = store.open_existing() is not None

    removed = report.items("chunk_without_document") + report.items("duplicate_chunk")
    if removed:
        catalog.remove_chunks(removed)
        if has_collection:
            store.delete(removed)
        catalog.clear_pending(removed)
        done.append(f"removed {len(removed)} chunks without a document or duplicated, with their vectors")

    # Counts and keyword rows are looked at again: removing chunks changed them.
    recount = [d for d, _, _ in catalog.chunk_count_mismatches()]
    if recount:
        catalog.recount_chunks(recount)
        done.append(f"recounted the chunks of {len(recount)} documents")
    chunk_orphans, document_orphans = catalog.orphan_chunk_fts(), catalog.orphan_document_fts()
    if chunk_orphans or document_orphans:
        catalog.delete_fts_rows(chunk_orphans, document_orphans)
        done.append(f"deleted {len(chunk_orphans) + len(document_orphans)} keyword index rows of nothing")
    stale_chunks, stale_documents = catalog.stale_fts()
    chunk_rows = catalog.chunks_missing_fts() + stale_chunks
    document_rows = catalog.documents_missing_fts() + stale_documents
    if chunk_rows or document_rows:
        catalog.rebuild_fts(chunk_rows, document_rows)
        done.append(f"rebuilt {len(chunk_rows) + len(document_rows)} keyword index rows from the catalog's text")

    orphans = report.items("orphan_vector")
    if orphans:
        store.delete(orphans)
        done.append(f"deleted {len(orphans)} orphan vectors")
    leftover = catalog.pending_vectors()
    if leftover:
        if has_collection:
            store.delete(leftover)
        catalog.clear_pending(leftover)
        done.append(f"deleted {len(leftover)} vectors awaiting cleanup")

    unpermitted = [i for i in report.items("vector_permissions") if i not in set(report.items("vector_metadata"))]
    if unpermitted:
        owners = catalog.chunk_owners(unpermitted)
        by_document: dict[str, list[str]] = {}
        for vid, (document_id, _) in owners.items():
            by_document.setdefault(document_id, []).append(vid)
        for document_id, ids in by_document.items():
            permissions = catalog.permissions_of(document_id)
            metadata = acl_metadata(permissions.principals, permissions.denied) if permissions else acl_metadata(None)
            store.update_metadata(ids, [metadata] * len(ids))
        done.append(f"gave {len(owners)} vectors their document's permissions (nothing re-embedded)")

    embed = list(dict.fromkeys(
        report.items("missing_vector") + report.items("vector_metadata") + report.items("pending_current")
    ))
    if embed:
        if report.items("model_mismatch"):
            done.append(f"did not re-embed {len(embed)} chunks: the model differs; run `orgkb index --full`")
        else:
            count = _embed_again(index, embed)
            catalog.clear_pending(report.items("pending_current"))
            done.append(f"re-embedded {count} chunks with {index.embedder.model_id}")
    return done


def _embed_again(index: KnowledgeIndex, chunk_ids: list[str]) -> int:
    """Embed current chunks from the catalog and write their vectors (same id, so in place)."""
    index.open()
    catalog = index.catalog
    written = 0
    for start in range(0, len(chunk_ids), EMBED_BATCH):
        stored = list(catalog.get_chunks(chunk_ids[start : start + EMBED_BATCH]).values())
        if not stored:
            continue
        documents = {d: catalog.get_document(d, with_sections=False) for d in {c.doc_id for c in stored}}
        # get_chunks joins documents, so every chunk it returns has one (the test is for typing).
        pairs = [(c, d) for c in stored if (d := documents[c.doc_id]) is not None]
        texts = [
            Chunk(id=c.chunk_id, doc_id=c.doc_id, ordinal=c.ordinal, text=c.text, heading_path=c.heading_path).embedding_text(c.title)
            for c, _ in pairs
        ]
        permissions = {doc: catalog.permissions_of(doc) for doc in documents}
        metadatas = []
        for c, d in pairs:
            p = permissions[c.doc_id]
            metadatas.append(vector_metadata(
                c.doc_id, c.source, d.file_type, d.modified, d.metadata, p.principals if p else None, p.denied if p else frozenset()
            ))
        index.store.upsert([c.chunk_id for c, _ in pairs], index.embedder.embed_documents(texts), metadatas)
        written += len(pairs)
    return written
