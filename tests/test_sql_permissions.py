"""Permissions of database rows and JSON-lines records: a table's `allow`, a row-groups column,
a record's groups field; enforced in search and fetch, kept current without re-embedding, and in
the SQL tools, where a caller may only query the tables its principal may read.

Real SQLite and a real PostgreSQL server (tests/postgres_server.py); a hashing embedder, since
this is about who sees what, not about meaning.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from orgkb.connectors.permissions import Permissions, parse_group_list
from orgkb.server.app.access import Access
from orgkb.server.app.databases import SqlToolError
from orgkb.server.app.principal import Principal
from orgkb.server.app.caller import CallerView
from orgkb.server.app.service import OrgkbService
from orgkb.server.embedding.embedder import HashingEmbedder
from orgkb.server.errors import ConfigError, NotFoundError
from orgkb.server.index.indexer import Indexer
from orgkb.server.index.knowledge import KnowledgeIndex
from tests.conftest import IndexFactory, write_config
from tests.postgres_server import PostgresServer

HR = Access(name="hr", principal=Principal(user="hanna", groups=frozenset({"hr"})))
FINANCE = Access(name="finance", principal=Principal(user="felix", groups=frozenset({"finance"})))
OUTSIDER = Access(name="outsider", principal=Principal(user="olga", groups=frozenset({"sales"})))
ADMIN = Access(name="admin", principal=Principal(user="root", admin=True))

NOTES = [  # note_id, body, visible_to (as SQLite text; PostgreSQL gets arrays of the same names)
    (1, "Pension notes: the pension scheme changes in May.", "hr"),
    (2, "Pension budget: finance reserves for the pension fund.", "finance; hr"),
    (3, "Pension audit: finance audits the pension payments.", '["finance"]'),
    (4, "Pension archive: old pension letters.", None),
    (5, "Pension draft: unfinished pension text.", ""),
    (6, "Pension oddity: a pension row whose groups are broken.", '{"group": "hr"}'),
]
LEDGER = [(1, "Pension ledger line: 4,000 EUR paid into the pension fund.")]


def _tables(**note_settings: Any) -> list[dict[str, Any]]:
    return [
        {"table": "notes", "id": "note_id", "title": "Note {note_id}", "row_groups_column": "visible_to", **note_settings},
        {"table": "ledger", "id": "line_id", "title": "Ledger {line_id}", "text": ["line"], "allow": ["group:finance"]},
    ]


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Callable[[str], None]:
    """The notes and ledger tables in a real SQLite file; returns a function running SQL on it."""
    path = tmp_path / "people.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (note_id INTEGER PRIMARY KEY, body TEXT, visible_to TEXT, changed TEXT)")
        db.executemany("INSERT INTO notes VALUES (?, ?, ?, '2026-01-01')", NOTES)
        db.execute("CREATE TABLE ledger (line_id INTEGER PRIMARY KEY, line TEXT)")
        db.executemany("INSERT INTO ledger VALUES (?, ?)", LEDGER)
        db.execute("CREATE TABLE canteen (dish_id INTEGER PRIMARY KEY, dish TEXT)")
        db.execute("INSERT INTO canteen VALUES (1, 'Pension-day soup')")

    def run(sql: str) -> None:
        with sqlite3.connect(path) as db:
            db.execute(sql)

    run.url = f"sqlite:///{path}"  # type: ignore[attr-defined]
    return run


def _service(make_index: IndexFactory, url: str, **source: Any) -> tuple[KnowledgeIndex, OrgkbService]:
    tables = source.pop("tables", _tables())
    index = make_index([{"name": "people", "type": "sql", "url": url, "tables": tables, **source}], embedder=HashingEmbedder())
    return index, OrgkbService(index)


def _found(view: CallerView, query: str = "pension") -> set[str]:
    return {hit.doc_id for hit in view.search(query, limit=50, mode="keyword").hits}


def test_group_values_are_read_in_every_documented_form() -> None:
    assert parse_group_list("hr, finance") == ["hr", "finance"]
    assert parse_group_list(" hr ;finance;; ") == ["hr", "finance"]
    assert parse_group_list('["hr", "Domain Users"]') == ["hr", "Domain Users"]
    assert parse_group_list(["hr"]) == ["hr"]
    assert parse_group_list(None) == [] and parse_group_list("  ") == [] and parse_group_list([]) == []
    for broken in ('["hr", 3]', "[not json", 42, {"hr": True}, [None]):
        assert parse_group_list(broken) is None, broken


def test_rows_are_seen_by_their_groups_only(sqlite_db: Any, make_index: IndexFactory) -> None:
    index, service = _service(make_index, sqlite_db.url)
    Indexer(index).run()
    catalog = index.catalog
    assert catalog.permissions_of("people:notes/2") == Permissions(
        principals=frozenset({"group:finance", "group:hr"}), rule="table notes column visible_to = finance, hr"
    )
    assert catalog.permissions_of("people:notes/3").principals == {"group:finance"}
    for empty in ("people:notes/4", "people:notes/5"):  # NULL and '': no fallback here, so admins only
        recorded = catalog.permissions_of(empty)
        assert recorded is not None and recorded.principals == frozenset() and "admins only" in recorded.rule
    broken = catalog.permissions_of("people:notes/6")
    assert broken is not None and broken.principals == frozenset() and "cannot read group names" in broken.rule
    assert catalog.permissions_of("people:ledger/1").rule == "table ledger: allow = ['group:finance']"
    # The described tables follow their table's `allow`; undescribed limits mean the whole source.
    assert catalog.permissions_of("people:schema/ledger").principals == {"group:finance"}
    assert catalog.permissions_of("people:schema/canteen").principals == {"*"}

    hr, finance, outsider = (service.for_caller(a) for a in (HR, FINANCE, OUTSIDER))
    assert {d for d in _found(hr) if "/" in d and "schema" not in d} == {"people:notes/1", "people:notes/2"}
    assert {d for d in _found(finance) if "schema" not in d} == {"people:notes/2", "people:notes/3", "people:ledger/1"}
    assert not {d for d in _found(outsider) if d.startswith(("people:notes", "people:ledger"))}
    assert {d for d in _found(service.for_caller(ADMIN)) if d.startswith("people:notes")} == {f"people:notes/{n}" for n in range(1, 7)}
    # The groups never become text: not searchable, not in a fetched row.
    assert not {d for d in _found(service.for_caller(ADMIN), "hr visible_to") if d.startswith("people:notes/")}
    fetched = hr.fetch("people:notes/2").text
    assert "Pension budget" in fetched and "visible_to" not in fetched and "finance;" not in fetched
    with pytest.raises(NotFoundError):
        hr.fetch("people:notes/3")
    with pytest.raises(NotFoundError):
        hr.fetch(catalog.get_document("people:ledger/1").uri)  # the citation uri a search prints


@pytest.mark.parametrize("stamped", [False, True], ids=["row-hash", "updated_at"])
def test_a_changed_groups_column_changes_who_sees_the_row_without_embedding(
    sqlite_db: Any, make_index: IndexFactory, stamped: bool
) -> None:
    tables = _tables(**({"updated_at": "changed"} if stamped else {}))
    index, service = _service(make_index, sqlite_db.url, tables=tables)
    Indexer(index).run()
    hr, finance = service.for_caller(HR), service.for_caller(FINANCE)
    assert "people:notes/1" in _found(hr) and "people:notes/1" not in _found(finance)
    # Only the groups change; `changed` (the updated_at column) stays, as applications often forget it.
    sqlite_db("UPDATE notes SET visible_to = 'finance' WHERE note_id = 1")
    sqlite_db("UPDATE notes SET visible_to = 'hr' WHERE note_id = 4")
    summary = Indexer(index).run()
    assert summary.total("chunks_embedded") == 0 and summary.total("updated") == 0
    assert "people:notes/1" in _found(finance) and "people:notes/1" not in _found(hr)
    assert "people:notes/4" in _found(hr)
    assert Indexer(index).run().total("chunks_embedded") == 0


def test_a_table_allow_is_the_fallback_of_rows_without_groups(sqlite_db: Any, make_index: IndexFactory) -> None:
    index, service = _service(make_index, sqlite_db.url, tables=_tables(allow=["group:hr", "user:felix"]))
    Indexer(index).run()
    fallback = index.catalog.permissions_of("people:notes/4")
    assert fallback is not None and fallback.principals == {"group:hr", "user:felix"}
    assert fallback.rule.startswith("table notes column visible_to is empty; table notes: allow")
    assert "people:notes/4" in _found(service.for_caller(FINANCE))  # as user:felix
    assert "people:notes/6" not in _found(service.for_caller(HR))  # broken groups never fall back
    # The row's own groups replace the table's allow: felix is not in hr.
    assert "people:notes/1" not in _found(service.for_caller(FINANCE))


def test_config_mistakes_are_one_line_errors(sqlite_db: Any, tmp_path: Path) -> None:
    cases = {
        "`allow` entry 'finance'": _tables()[:1] + [{"table": "ledger", "id": "line_id", "allow": ["finance"]}],
        "must not be shown": _tables(text=["body", "visible_to"]),
        "cannot also be an id": [{"table": "notes", "id": "visible_to", "row_groups_column": "visible_to"}],
    }
    for expected, tables in cases.items():
        path = write_config(tmp_path / "bad.toml", [{"name": "people", "type": "sql", "url": sqlite_db.url, "tables": tables}])
        from orgkb.server.config import load_config

        with pytest.raises(ConfigError, match=expected.replace("`", ".").replace("'", ".")):
            load_config(path)


# --- the SQL tools ----------------------------------------------------------------------------


def _check_sql_tools(service: OrgkbService) -> None:
    """hr may query the canteen only; finance also the ledger; nobody but admins the notes."""
    hr, finance, admin = (service.for_caller(a) for a in (HR, FINANCE, ADMIN))
    assert hr.query("people", "SELECT dish FROM canteen").rows == [["Pension-day soup"]]
    assert finance.query("people", "SELECT line_id FROM ledger").rows == [[1]]
    refusals = {
        "SELECT * FROM ledger": "you may not read table 'ledger'",
        "SELECT d.dish FROM canteen d JOIN LEDGER l ON l.line_id = d.dish_id": "you may not read table 'LEDGER'",
        "WITH x AS (SELECT line FROM ledger) SELECT * FROM x": "you may not read table 'ledger'",
        "SELECT (SELECT count(*) FROM ledger) AS n": "you may not read table 'ledger'",
    }
    for sql, reason in refusals.items():
        with pytest.raises(SqlToolError, match=reason):
            hr.query("people", sql)
    for view in (hr, finance):
        with pytest.raises(SqlToolError, match="row-level permissions .* only admins may query it"):
            view.query("people", "SELECT count(*) FROM notes")
    assert admin.query("people", "SELECT count(*) FROM notes").rows == [[6]]
    assert service.local().query("people", "SELECT count(*) FROM ledger").rows == [[1]]  # no principal: by source
    # Schema tools: a table the caller may not read is unknown to it; the notes' columns are not secret.
    names = lambda view: {t.name for t in view.list_tables("people").tables}  # noqa: E731
    assert "ledger" not in names(hr) and {"ledger", "notes", "canteen"} <= names(finance)
    with pytest.raises(NotFoundError, match="no table or view 'ledger'"):
        hr.describe_table("people", "ledger")
    with pytest.raises(NotFoundError):
        hr.schema_text("people", "ledger")
    assert "visible_to" in hr.schema_text("people", "notes")


def test_sql_tools_apply_table_permissions_on_sqlite(sqlite_db: Any, make_index: IndexFactory) -> None:
    _index, service = _service(make_index, sqlite_db.url)
    _check_sql_tools(service)


def test_a_source_allow_limits_free_sql_over_tables_without_their_own(sqlite_db: Any, make_index: IndexFactory) -> None:
    _index, service = _service(make_index, sqlite_db.url, allow=["group:finance"])
    with pytest.raises(SqlToolError, match="you may not read table 'canteen'"):
        service.for_caller(HR).query("people", "SELECT dish FROM canteen")
    assert service.for_caller(FINANCE).query("people", "SELECT dish FROM canteen").row_count == 1


# --- PostgreSQL: arrays and JSON as group values ----------------------------------------------

PG_SCHEMA = """
CREATE TABLE notes (note_id int PRIMARY KEY, body text, visible_to text[], changed date DEFAULT '2026-01-01');
CREATE TABLE ledger (line_id int PRIMARY KEY, line text);
CREATE TABLE canteen (dish_id int PRIMARY KEY, dish text);
CREATE TABLE memos (memo_id int PRIMARY KEY, memo text, readers jsonb);
INSERT INTO notes VALUES (1, 'Pension notes: the pension scheme changes in May.', '{hr}'),
  (2, 'Pension budget: finance reserves for the pension fund.', '{finance,hr}'),
  (3, 'Pension audit: finance audits the pension payments.', '{finance}'),
  (4, 'Pension archive: old pension letters.', NULL), (5, 'Pension draft: unfinished pension text.', '{}'),
  (6, 'Pension oddity: a pension row whose groups are broken.', '{NULL}');
INSERT INTO ledger VALUES (1, 'Pension ledger line: 4,000 EUR paid into the pension fund.');
INSERT INTO canteen VALUES (1, 'Pension-day soup');
INSERT INTO memos VALUES (1, 'Pension memo for finance.', '["finance"]'), (2, 'Pension memo, broken readers.', '{"x": 1}');
CREATE ROLE people_reader LOGIN PASSWORD 'People-Reader-77';
GRANT SELECT ON ALL TABLES IN SCHEMA public TO people_reader;
"""


@pytest.fixture(scope="module")
def people_pg(postgres: PostgresServer) -> Iterator[PostgresServer]:
    postgres.execute("CREATE DATABASE people")
    postgres.execute(PG_SCHEMA, "people")
    yield postgres
    postgres.execute("DROP DATABASE people WITH (FORCE)")
    postgres.execute("DROP ROLE people_reader")


def test_postgres_arrays_and_json_name_the_groups(people_pg: PostgresServer, make_index: IndexFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PEOPLE_PW", "People-Reader-77")
    tables = [*_tables(), {"table": "memos", "id": "memo_id", "text": ["memo"], "row_groups_column": "readers"}]
    index, service = _service(make_index, people_pg.url("people_reader", "people"), tables=tables, password_env="PEOPLE_PW")
    Indexer(index).run()
    catalog = index.catalog
    assert catalog.permissions_of("people:notes/2").principals == {"group:finance", "group:hr"}
    assert catalog.permissions_of("people:notes/5").principals == frozenset()  # an empty array
    assert "cannot read group names" in catalog.permissions_of("people:notes/6").rule  # an array holding NULL
    assert catalog.permissions_of("people:memos/1").principals == {"group:finance"}  # jsonb array
    assert catalog.permissions_of("people:memos/2").principals == frozenset()  # jsonb object
    assert {d for d in _found(service.for_caller(HR)) if d.startswith("people:notes")} == {"people:notes/1", "people:notes/2"}
    _check_sql_tools(service)
    with pytest.raises(SqlToolError, match="row-level permissions"):
        service.for_caller(FINANCE).query("people", "SELECT memo FROM public.memos")
    people_pg.execute("UPDATE notes SET visible_to = '{hr}' WHERE note_id = 3", "people")
    assert Indexer(index).run().total("chunks_embedded") == 0
    assert "people:notes/3" in _found(service.for_caller(HR))
    people_pg.execute("UPDATE notes SET visible_to = '{finance}' WHERE note_id = 3", "people")


# --- JSON lines ------------------------------------------------------------------------------


def test_jsonl_records_carry_their_groups(tmp_path: Path, make_index: IndexFactory) -> None:
    path = tmp_path / "tickets.jsonl"
    records = [
        {"_id": "t1", "text": "Pension question from an employee.", "acl": "hr"},
        {"_id": "t2", "text": "Pension invoice question.", "acl": ["finance", "hr"]},
        {"_id": "t3", "text": "Pension question nobody was assigned.", "acl": None},
        {"_id": "t4", "text": "Pension question with odd groups.", "acl": 7},
    ]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    index = make_index([{"name": "tickets", "type": "jsonl", "paths": [str(path)], "groups_field": "acl"}], embedder=HashingEmbedder())
    Indexer(index).run()
    service = OrgkbService(index)
    assert _found(service.for_caller(HR)) == {"tickets:t1", "tickets:t2"}
    assert _found(service.for_caller(FINANCE)) == {"tickets:t2"}
    assert len(_found(service.for_caller(ADMIN))) == 4
    assert index.catalog.permissions_of("tickets:t3").rule == "field acl is empty: admins only"
    assert '"acl"' not in service.for_caller(HR).fetch("tickets:t1").text
    records[0]["acl"] = "finance"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    summary = Indexer(index).run()
    assert summary.total("chunks_embedded") == 0
    assert _found(service.for_caller(FINANCE)) == {"tickets:t1", "tickets:t2"}
    bad = write_config(tmp_path / "bad.toml", [{"name": "t", "type": "jsonl", "paths": [str(path)], "groups_field": "text"}])
    from orgkb.server.config import load_config

    with pytest.raises(ConfigError, match="groups_field"):
        load_config(bad)
