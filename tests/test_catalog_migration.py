"""Schema 4: a failure keeps whether it was skipped and what it names; older catalogs migrate in place."""

from __future__ import annotations

from pathlib import Path

from orgkb.connectors.base import Failure
from orgkb.server.store.catalog import Catalog
from orgkb.server.store.schema import SCHEMA_VERSION

V2_FAILURES = """
DROP TABLE failures;
CREATE TABLE failures (source TEXT NOT NULL, key TEXT NOT NULL, message TEXT NOT NULL, at REAL NOT NULL,
                       PRIMARY KEY (source, key));
INSERT INTO failures VALUES ('docs', 'bad.pdf', 'corrupt PDF', 0);
UPDATE meta SET value = '2' WHERE key = 'schema_version';
"""


def test_a_version_2_catalog_migrates_and_keeps_its_failures(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    old = Catalog(path)
    with old.transaction() as tx:
        for statement in V2_FAILURES.strip().split(";\n"):
            tx.execute(statement)
    old.close()
    catalog = Catalog(path)
    assert catalog.get_meta("schema_version") == str(SCHEMA_VERSION) == "4"
    assert catalog.failures("docs") == [Failure(source="docs", key="bad.pdf", message="corrupt PDF")]
    catalog.record_sync(
        "docs", cursor=None, full=True, error=None, summary={},
        failures=[
            Failure(source="docs", key="logo.png", message="binary file", skipped=True),
            Failure(source="docs", key="private/", message="cannot list folder: permission denied", scope="folder"),
        ],
    )
    by_key = {f.key: f for f in catalog.failures("docs")}
    assert by_key["logo.png"].skipped and by_key["logo.png"].scope == "document"
    assert by_key["private/"].scope == "folder" and not by_key["private/"].skipped
    assert "bad.pdf" not in by_key  # a full sync replaces the previous list
    catalog.close()
