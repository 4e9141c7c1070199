"""Search filters, translated once for each index so they apply inside it, before ranking.

Filtering after retrieval would silently drop results: the top-k of a filtered query must be
the top-k among matching chunks, so both the vector index (a Chroma ``where``) and the lexical
index (SQL) receive the same conditions.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from orgkb.connectors.base import MetadataValue
from orgkb.server.store.catalog import Catalog, readable_by

METADATA_PREFIX = "m_"
# The vector metadata key listing who may read a chunk's document (a Chroma array metadata value).
ACL_KEY = "acl"
# ... and who is refused it whatever else allows them (NTFS deny entries).
DENIED_KEY = "acl_denied"
_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class SearchFilters(BaseModel):
    """Conditions a hit must meet. Empty fields do not filter."""

    model_config = ConfigDict(extra="forbid")

    sources: list[str] | None = Field(default=None, description="Only these sources (by name).")
    path_prefix: str | None = Field(
        default=None, description="Only documents whose key (path within the source, page title) starts with this."
    )
    file_types: list[str] | None = Field(default=None, description='Only these types, e.g. ["pdf", "md", "html"].')
    modified_after: datetime | None = Field(default=None, description="Only documents modified at or after this time.")
    modified_before: datetime | None = Field(default=None, description="Only documents modified before this time.")
    metadata: dict[str, MetadataValue] | None = Field(
        default=None, description="Only documents whose metadata has each of these key/value pairs."
    )
    principals: frozenset[str] | None = Field(
        default=None,
        description="Only documents one of these principals may read. Set by the server from the caller's "
        "access (`Access.principal_names`), never taken from a request.",
    )

    @field_validator("metadata")
    @classmethod
    def _check_keys(cls, value: dict[str, MetadataValue] | None) -> dict[str, MetadataValue] | None:
        for key in value or {}:
            if not _KEY.match(key):
                raise ValueError(f"metadata key {key!r} may only use letters, digits, '_', '.', '-'")
        return value

    def is_empty(self) -> bool:
        """True when nothing is filtered."""
        return not any(getattr(self, name) for name in type(self).model_fields)

    def doc_ids_for_prefix(self, catalog: Catalog) -> list[str] | None:
        """Documents matching ``path_prefix`` (None when there is no prefix)."""
        if not self.path_prefix:
            return None
        sql = "SELECT doc_id FROM documents WHERE key >= ? AND key < ?"
        params: list[object] = [self.path_prefix, self.path_prefix + "\U0010ffff"]
        if self.sources:
            sql += f" AND source IN ({','.join('?' * len(self.sources))})"
            params.extend(self.sources)
        return [row["doc_id"] for row in catalog.query(sql, params)]

    def to_chroma(self, prefix_ids: list[str] | None) -> dict[str, Any] | None:
        """The Chroma ``where`` clause."""
        clauses: list[dict[str, Any]] = []
        if self.sources:
            clauses.append({"source": {"$in": list(self.sources)}})
        if self.file_types:
            clauses.append({"file_type": {"$in": [t.lower().lstrip(".") for t in self.file_types]}})
        if self.modified_after:
            clauses.append({"modified": {"$gte": self.modified_after.timestamp()}})
        if self.modified_before:
            clauses.append({"modified": {"$lt": self.modified_before.timestamp()}})
        for key, value in (self.metadata or {}).items():
            clauses.append({METADATA_PREFIX + key: {"$eq": value}})
        if prefix_ids is not None:
            clauses.append({"doc_id": {"$in": prefix_ids}})
        if self.principals is not None:
            clauses.append(_principals_where(self.principals))
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def to_sql(self, prefix_ids: list[str] | None) -> tuple[str, list[object]]:
        """A SQL condition over ``documents d`` (``1=1`` when empty) and its parameters."""
        conditions: list[str] = []
        params: list[object] = []
        if self.sources:
            conditions.append(f"d.source IN ({','.join('?' * len(self.sources))})")
            params.extend(self.sources)
        if self.file_types:
            conditions.append(f"d.file_type IN ({','.join('?' * len(self.file_types))})")
            params.extend(t.lower().lstrip(".") for t in self.file_types)
        if self.modified_after:
            conditions.append("d.modified >= ?")
            params.append(self.modified_after.timestamp())
        if self.modified_before:
            conditions.append("d.modified < ?")
            params.append(self.modified_before.timestamp())
        for key, value in (self.metadata or {}).items():
            conditions.append("json_extract(d.metadata, ?) = ?")
            params.extend([f'$."{key}"', value])
        if self.path_prefix:
            conditions.append("d.key >= ? AND d.key < ?")
            params.extend([self.path_prefix, self.path_prefix + "\U0010ffff"])
        if self.principals is not None:
            condition, values = readable_by(self.principals, "d.doc_id")
            conditions.append(condition)
            params.extend(values)
        return (" AND ".join(conditions) or "1=1"), params


def _principals_where(principals: frozenset[str]) -> dict[str, Any]:
    """Chunks whose document any of ``principals`` may read and none is denied (no principals:
    matches nothing). A chunk without the denied key denies nobody (``$not_contains`` matches it)."""
    names = sorted(principals) or [""]
    allowed: list[dict[str, Any]] = [{ACL_KEY: {"$contains": name}} for name in names]
    clauses = [allowed[0] if len(allowed) == 1 else {"$or": allowed}]
    clauses += [{DENIED_KEY: {"$not_contains": name}} for name in names if name]
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def acl_metadata(principals: frozenset[str] | None, denied: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The vector metadata recording who may read a document and who is denied it; Chroma
    refuses empty lists, so an empty set stores None (which also removes the key on update)."""
    return {ACL_KEY: sorted(principals) if principals else None, DENIED_KEY: sorted(denied) if denied else None}


def vector_metadata(
    doc_id: str,
    source: str,
    file_type: str,
    modified: float | None,
    metadata: dict[str, MetadataValue],
    principals: frozenset[str] | None = None,
    denied: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The metadata stored with each vector: exactly what `SearchFilters.to_chroma` filters on."""
    out: dict[str, Any] = {"doc_id": doc_id, "source": source, "file_type": file_type}
    out.update((key, value) for key, value in acl_metadata(principals, denied).items() if value is not None)
    if modified is not None:
        out["modified"] = modified
    for key, value in metadata.items():
        if isinstance(value, str | int | float | bool) and _KEY.match(key):
            out[METADATA_PREFIX + key] = value
    return out
