"""Upgrading a catalog written by an older orgkb, in place and without embedding anything again.

Version 2 added document-level BM25 (``documents_fts``): it is filled from the documents the
catalog already holds, so an existing index keeps working after an upgrade.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from connectors.base import Document, Section
from server.errors import OrgkbError

if TYPE_CHECKING:
    from server.catalog import Catalog


def migrate(catalog: Catalog, current: int) -> None:
    """Bring ``catalog`` up to schema ``current``; refuse one written by a newer orgkb."""
    stored = int(catalog.get_meta("schema_version") or current)
    if stored > current:
        raise OrgkbError(
            f"the catalog {catalog.path} was written by a newer orgkb (schema {stored}); "
            "upgrade orgkb, or index into a new data_dir"
        )
    if stored < 2:
        with catalog.transaction() as tx:
            tx.execute("DELETE FROM documents_fts")
            for row in tx.execute("SELECT rowid, source, key, title, uri, sections FROM documents").fetchall():
                sections = [Section.model_validate(s) for s in json.loads(row["sections"])]
                document = Document(source=row["source"], key=row["key"], title=row["title"], uri=row["uri"], sections=sections)
                tx.execute(
                    "INSERT INTO documents_fts(rowid, title, body) VALUES (?,?,?)",
                    (row["rowid"], document.title, document.text),
                )
    if stored != current:
        with catalog.transaction() as tx:
            tx.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(current),))
