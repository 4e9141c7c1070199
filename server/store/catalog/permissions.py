"""Who may read each document: the `document_access` (and `document_denied`) rows both search paths filter on."""

from __future__ import annotations

import sqlite3

from orgkb.connectors.permissions import Permissions
from orgkb.server.store.catalog.connection import CatalogConnection


class PermissionRecords(CatalogConnection):
    """Per-document permissions, written beside the document and updated without re-indexing it."""

    def permissions_of(self, doc_id: str) -> Permissions | None:
        """Who may read the document, as recorded at its last sync (None: not recorded)."""
        rows = self.query("SELECT rule FROM document_permissions WHERE doc_id = ?", (doc_id,))
        if not rows:
            return None
        names = self.query("SELECT principal FROM document_access WHERE doc_id = ?", (doc_id,))
        denied = self.query("SELECT principal FROM document_denied WHERE doc_id = ?", (doc_id,))
        return Permissions(
            principals=frozenset(r["principal"] for r in names), denied=frozenset(r["principal"] for r in denied), rule=rows[0]["rule"]
        )

    def set_permissions(self, items: list[tuple[str, Permissions]]) -> None:
        """Record new permissions of indexed documents (their content and vectors stay)."""
        with self.transaction() as tx:
            self._write_permissions(tx, list(items))

    def _write_permissions(self, tx: sqlite3.Connection, items: list[tuple[str, Permissions | None]]) -> None:
        """Replace the permissions of each document; None removes them."""
        for doc_id, permissions in items:
            tx.execute("DELETE FROM document_access WHERE doc_id = ?", (doc_id,))
            tx.execute("DELETE FROM document_denied WHERE doc_id = ?", (doc_id,))
            tx.execute("DELETE FROM document_permissions WHERE doc_id = ?", (doc_id,))
            if permissions is None:
                continue
            tx.execute("INSERT INTO document_permissions(doc_id, rule) VALUES (?,?)", (doc_id, permissions.rule))
            tx.executemany(
                "INSERT INTO document_access(doc_id, principal) VALUES (?,?)", [(doc_id, p) for p in sorted(permissions.principals)]
            )
            tx.executemany(
                "INSERT INTO document_denied(doc_id, principal) VALUES (?,?)", [(doc_id, p) for p in sorted(permissions.denied)]
            )


PERMISSION_TABLES = ("document_permissions", "document_access", "document_denied")


def readable_by(principals: frozenset[str], doc_id_column: str) -> tuple[str, list[object]]:
    """A SQL condition: the document in ``doc_id_column`` is readable by one of ``principals``
    and denied to none of them."""
    names = sorted(principals)
    if not names:
        return "0", []
    marks = ",".join("?" * len(names))
    return (
        f"EXISTS (SELECT 1 FROM document_access a WHERE a.doc_id = {doc_id_column} AND a.principal IN ({marks}))"
        f" AND NOT EXISTS (SELECT 1 FROM document_denied x WHERE x.doc_id = {doc_id_column} AND x.principal IN ({marks}))",
        [*names, *names],
    )

