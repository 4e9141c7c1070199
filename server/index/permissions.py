"""Keeping per-document permissions current in both indexes without embedding anything again.

A document's permissions come from its connector (`Document.permissions`), or from the source's
``allow`` override; a connector that captures none makes a document readable by everyone who
may see the source. They are not part of the content hash: when only they change, the catalog
rows and the chunks' vector metadata are updated in place.

Windows SIDs a connector records (``sid:S-1-5-21-...``, from NTFS ACLs) are named here, through
the `[identity]` directory, as the ``user:``/``group:`` names callers carry. A SID the directory
does not know stays as it is (it matches no caller). When the directory cannot answer, or none
names SIDs, a document with a SID among its deny entries is for administrators only: the deny
must not be lost.
"""

from __future__ import annotations

from typing import NamedTuple

from orgkb.connectors.base import SourceConfig
from orgkb.connectors.ntfs_permissions import SID_PREFIX
from orgkb.connectors.permissions import Permissions
from orgkb.server.identity.directory import DirectoryError, SidNames
from orgkb.server.index.knowledge import KnowledgeIndex
from orgkb.server.store.filters import acl_metadata


def effective_permissions(captured: Permissions | None, config: SourceConfig, sid_names: SidNames | None = None) -> Permissions:
    """Who may read a document whose source says ``captured``: the source's ``allow`` override,
    else what the source says (with SIDs named through ``sid_names``)."""
    if config.allow is not None:
        return Permissions(principals=frozenset(config.allow), rule=f"source {config.name}: allow = {sorted(config.allow)}")
    if captured is None:
        return Permissions.everyone(f"source {config.name} records no permissions")
    return resolve_sids(captured, sid_names)


def resolve_sids(permissions: Permissions, sid_names: SidNames | None) -> Permissions:
    """``permissions`` with each ``sid:`` principal replaced by the name the directory gives it
    (in the rule too); unknown SIDs stay. Denied SIDs that cannot be named: administrators only."""
    sids = sorted(p for p in permissions.principals | permissions.denied if p.startswith(SID_PREFIX))
    if not sids:
        return permissions
    names: dict[str, str] = {}
    failure = "no [identity] directory names Windows SIDs" if sid_names is None else None
    if sid_names is not None:
        try:
            for sid in sids:
                name = sid_names.name_of_sid(sid.removeprefix(SID_PREFIX))
                if name is not None:
                    names[sid] = name
        except DirectoryError as exc:
            failure = str(exc)
    if failure is not None and any(p.startswith(SID_PREFIX) for p in permissions.denied):
        return Permissions.nobody(f"{permissions.rule}; the deny entries cannot be resolved ({failure})")
    rule = permissions.rule
    for sid, name in names.items():
        rule = rule.replace(sid, name)
    return Permissions(
        principals=frozenset(names.get(p, p) for p in permissions.principals),
        denied=frozenset(names.get(p, p) for p in permissions.denied),
        rule=rule,
    )


class Regrant(NamedTuple):
    """A document whose permissions changed at the source, with those it had before."""

    doc_id: str
    before: Permissions | None


def refresh_permissions(
    index: KnowledgeIndex, document_id: str, permissions: Permissions | None, recorded: Permissions | None = None
) -> Regrant | None:
    """Record a document's permissions if they differ from the indexed ones (its content is
    unchanged); the change when something was updated (None otherwise). ``recorded``: the
    indexed ones, when the caller has just read them (every unchanged file of a sync does)."""
    before = recorded if recorded is not None else index.catalog.permissions_of(document_id)
    if permissions is None or before == permissions:
        return None
    chunk_ids = [c.chunk_id for c in index.catalog.document_chunks(document_id)]
    # Vectors first: a crash in between leaves the old catalog rows, and the next sync retries
    # (should the source change back before that, `orgkb verify --repair` realigns the vectors;
    # searches check hits against the catalog meanwhile, so nothing is shown too widely).
    index.store.update_metadata(chunk_ids, [acl_metadata(permissions.principals, permissions.denied)] * len(chunk_ids))
    index.catalog.set_permissions([(document_id, permissions)])
    return Regrant(document_id, before)
