"""Keeping per-document permissions current in both indexes without embedding anything again.

A document's permissions come from its connector (`Document.permissions`), or from the source's
``allow`` override; a connector that captures none makes a document readable by everyone who
may see the source. They are not part of the content hash: when only they change, the catalog
rows and the chunks' vector metadata are updated in place.
"""

from __future__ import annotations

from orgkb.connectors.base import SourceConfig
from orgkb.connectors.permissions import Permissions
from orgkb.server.index.knowledge import KnowledgeIndex
from orgkb.server.store.filters import acl_metadata


def effective_permissions(captured: Permissions | None, config: SourceConfig) -> Permissions:
    """Who may read a document whose source says ``captured``: the source's ``allow`` override,
    else what the source says."""
    if config.allow is not None:
        return Permissions(principals=frozenset(config.allow), rule=f"source {config.name}: allow = {sorted(config.allow)}")
    return captured or Permissions.everyone(f"source {config.name} records no permissions")


def refresh_permissions(index: KnowledgeIndex, document_id: str, permissions: Permissions | None) -> bool:
    """Record a document's permissions if they differ from the indexed ones (its content is
    unchanged); True when something was updated."""
    if permissions is None or index.catalog.permissions_of(document_id) == permissions:
        return False
    chunk_ids = [c.chunk_id for c in index.catalog.document_chunks(document_id)]
    # Vectors first: a crash in between leaves the old catalog rows, and the next sync retries.
    index.store.update_metadata(chunk_ids, [acl_metadata(permissions.principals)] * len(chunk_ids))
    index.catalog.set_permissions([(document_id, permissions)])
    return True
