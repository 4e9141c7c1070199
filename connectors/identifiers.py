"""Every identifier orgkb hands out, formatted and parsed in this one place.

- A **document id** is ``source:key``. Source names cannot contain ``:`` (the config forbids
  it), so the first ``:`` always splits an id, whatever the key holds.
- A **chunk id** derives from its document id, the content hash and its position, so indexing
  the same content twice gives the same ids.
- **Resource uris** (``orgkb://...``) name what the MCP server serves: documents, database
  schemas and the index status. A key is percent-encoded exactly once, here, with ``/`` kept
  as the path separator; any file name survives the round trip (``#``, ``%2e``, newlines,
  bytes that are not UTF-8, carried as surrogate escapes).
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote, unquote

SCHEME = "orgkb"
DOCUMENTS_PREFIX = f"{SCHEME}://documents/"
SCHEMA_PREFIX = f"{SCHEME}://schema/"
STATUS_URI = f"{SCHEME}://status"
# The MCP resource template of documents; ``{+key}`` lets the key keep its slashes.
DOCUMENT_TEMPLATE = DOCUMENTS_PREFIX + "{source}/{+key}"
SCHEMA_TABLE_TEMPLATE = SCHEMA_PREFIX + "{source}/{table}"


def doc_id(source: str, key: str) -> str:
    """The id of a document across all sources."""
    return f"{source}:{key}"


def split_doc_id(document_id: str) -> tuple[str, str]:
    """``(source, key)`` of a document id; `ValueError` if it has no source part."""
    source, colon, key = document_id.partition(":")
    if not colon or not source:
        raise ValueError(f"not a document id: {document_id!r} (expected source:key)")
    return source, key


def chunk_id(document_id: str, content_hash: str, ordinal: int) -> str:
    """A chunk's deterministic id.

    The content hash is part of it so a new version's chunks never overwrite the old version's
    in place: the swap happens in one catalog transaction instead.
    """
    digest = hashlib.sha1(document_id.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return f"{digest}-{content_hash[:12]}-{ordinal:05d}"


def _encode(part: str, safe: str) -> str:
    return quote(part, safe=safe, encoding="utf-8", errors="surrogateescape")


def _decode(part: str) -> str:
    return unquote(part, encoding="utf-8", errors="surrogateescape")


def document_uri(source: str, key: str) -> str:
    """The MCP resource uri of a document."""
    return f"{DOCUMENTS_PREFIX}{_encode(source, '')}/{_encode(key, '/')}"


def parse_document_uri(uri: str) -> tuple[str, str] | None:
    """``(source, key)`` of a document resource uri (a ``#fragment`` is ignored); None if it is not one."""
    if not uri.startswith(DOCUMENTS_PREFIX):
        return None
    rest = uri[len(DOCUMENTS_PREFIX) :].split("#", 1)[0]
    source, slash, key = rest.partition("/")
    if not slash or not source:
        return None
    return _decode(source), _decode(key)


def document_uri_from_template(source: str, key: str) -> str:
    """The uri a resource template matched, from the raw (still encoded) values it extracted."""
    return f"{DOCUMENTS_PREFIX}{source}/{key}"


def decode_uri_part(raw: str) -> str:
    """One value a resource template extracted from a uri (still percent-encoded), decoded."""
    return _decode(raw)


def schema_uri(source: str, table: str | None = None) -> str:
    """The resource uri of a database source's table listing, or of one table."""
    base = f"{SCHEMA_PREFIX}{_encode(source, '')}"
    return base if table is None else f"{base}/{_encode(table, '')}"


def source_of_uri(uri: str) -> str | None:
    """The source an ``orgkb://documents/`` or ``orgkb://schema/`` uri belongs to; None for others."""
    for prefix in (DOCUMENTS_PREFIX, SCHEMA_PREFIX):
        if uri.startswith(prefix):
            source = _decode(uri[len(prefix) :].split("/", 1)[0].split("#", 1)[0])
            return source or None
    return None


def doc_id_prefix_of_uri(partial: str) -> str | None:
    """The document-id prefix a partly typed document uri stands for (for completions).

    ``orgkb://documents/hand`` gives ``hand`` (a source name being typed);
    ``orgkb://documents/handbook/po`` gives ``handbook:po``. None when ``partial`` is not the
    start of a document uri.
    """
    if not (partial.startswith(DOCUMENTS_PREFIX) or DOCUMENTS_PREFIX.startswith(partial)):
        return None
    named = parse_document_uri(partial)
    if named is not None:
        return doc_id(*named)
    return _decode(partial[len(DOCUMENTS_PREFIX) :])
