"""A sync cursor that also remembers the permissions it was taken under.

Wikis keep a change log of pages but none of their permissions: an ACL edit or a new
``$wgGroupPermissions`` changes no revision. A connector whose permissions live apart from its
pages appends their fingerprint to its cursor; when they differ at the next incremental sync
it raises `CursorExpired`, and the indexer lists every page again (loading only pages whose
version changed) and records the new permissions without embedding anything.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from orgkb.connectors.base import CursorExpired

_SEPARATOR = "|"  # in no timestamp or revision number a wiki uses as its position


def fingerprint(rules: Any) -> str:
    """A short, stable hash of permission rules (anything JSON can write; sets are sorted)."""
    blob = json.dumps(rules, sort_keys=True, ensure_ascii=False, default=lambda v: sorted(v) if isinstance(v, (set, frozenset)) else str(v))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def with_permissions(position: str, rules_fingerprint: str) -> str:
    """The cursor for ``position`` in the change log under rules with this fingerprint."""
    return f"{position}{_SEPARATOR}{rules_fingerprint}"


def position_of(cursor: str, rules_fingerprint: str, source: str) -> str:
    """The change-log position of ``cursor``; `CursorExpired` when the permissions it was taken
    under are not these (or it predates permission capture)."""
    position, separator, recorded = cursor.rpartition(_SEPARATOR)
    if not separator or recorded != rules_fingerprint:
        raise CursorExpired(f"{source}: the wiki's permissions changed since the last sync (or were not recorded)")
    return position
