"""The statement check (first read-only layer), the row templates and the sql source config.

Pure logic: no database. The attacks are also run against real PostgreSQL and SQLite servers
in test_sql_postgres.py and test_sql_sqlite.py, where they must change nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orgkb.connectors.sql.config import SqlConfig, template_fields
from orgkb.connectors.sql.guard import UnsafeQueryError, checked_read_query, sqlglot_dialect
from orgkb.connectors.sql.schema import sqlite_comments
from orgkb.server.errors import ConfigError
from tests.conftest import write_config

REFUSED = [
    ("SELECT 1; DELETE FROM t", "only one statement"),
    ("COMMIT; DROP TABLE t", "only one statement"),
    ("SET default_transaction_read_only = off", "not SET"),
    ("WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x", "DELETE is not allowed"),
    ("WITH x AS (UPDATE t SET a = 1 RETURNING *) SELECT * FROM x", "UPDATE is not allowed"),
    ("WITH x AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM x", "INSERT is not allowed"),
    ("COPY (SELECT 1) TO PROGRAM 'touch /tmp/pwned'", "COPY"),
    ("COPY t FROM '/etc/passwd'", "COPY"),
    ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity", "pg_terminate_backend"),
    ("SELECT pg_cancel_backend(1)", "pg_cancel_backend"),
    ("SELECT lo_import('/etc/passwd')", "lo_import"),
    ("SELECT lo_export(1, '/tmp/x')", "lo_export"),
    ("SELECT pg_sleep(60)", "pg_sleep"),
    ("SELECT * FROM pg_catalog.pg_sleep(60)", "pg_sleep"),
    ('SELECT "pg_sleep"(60)', "pg_sleep"),
    ("SELECT PG_SLEEP_FOR('1 minute')", "pg_sleep_for"),
    ("SELECT pg_read_file('/etc/passwd')", "pg_read_file"),
    ("SELECT * FROM pg_ls_dir('/')", "pg_ls_dir"),
    ("SELECT * FROM dblink('host=x', 'DELETE FROM t') AS r(a int)", "dblink"),
    ("SELECT set_config('default_transaction_read_only', 'off', false)", "set_config"),
    ("SELECT nextval('invoice_numbers')", "nextval"),
    ("SELECT pg_advisory_lock(1)", "pg_advisory_lock"),
    ("SELECT txid_current()", "txid_current"),
    ("SELECT query_to_xml('DELETE FROM t', true, true, '')", "query_to_xml"),
    ("SELECT * INTO newt FROM t", "INTO"),
    ("SELECT * FROM t FOR UPDATE", "row lock"),
    ("SELECT * FROM t FOR SHARE", "row lock"),
    ("SELECT 1 /* ; */; DELETE FROM t", "only one statement"),
    ("sElEcT 1; dElEtE fRoM t", "only one statement"),
    ("SELECT 'a\\'; DELETE FROM t; --'", "only one statement"),
    ("DO $$ BEGIN DELETE FROM t; END $$", "DO"),
    ("EXPLAIN ANALYZE DELETE FROM t", "EXPLAIN"),
    ("CALL refresh_everything()", "CALL"),
    ("PREPARE p AS DELETE FROM t", "PREPARE"),
    ("LOCK TABLE t", "LOCK"),
    ("GRANT SELECT ON t TO PUBLIC", "GRANT"),
    ("NOTIFY channel", "not"),
    ("VACUUM", "VACUUM"),
    ("TRUNCATE t", "TRUNCATE"),
    ("SELECT (SELECT 1 FROM (DELETE FROM t RETURNING 1) d)", "could not be parsed"),
    ("", "empty"),
    ("  ;  ", "empty"),
]


@pytest.mark.parametrize(("sql", "reason"), REFUSED)
def test_postgres_attacks_are_refused_with_a_reason(sql: str, reason: str) -> None:
    with pytest.raises(UnsafeQueryError, match=reason):
        checked_read_query(sql, "postgres")


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("ATTACH DATABASE '/tmp/x.db' AS x", "ATTACH"),
        ("PRAGMA query_only = 0", "PRAGMA"),
        ("SELECT load_extension('/tmp/evil.so')", "load_extension"),
        ("SELECT writefile('/tmp/x', 'y')", "writefile"),
        ("SELECT readfile('/etc/passwd')", "readfile"),
        ("VACUUM INTO '/tmp/copy.db'", "VACUUM"),
        ("REPLACE INTO t VALUES (1)", "REPLACE"),
        ("INSERT INTO t SELECT * FROM t", "INSERT"),
        ("WITH a AS (SELECT 1) INSERT INTO t SELECT * FROM a", "INSERT"),
    ],
)
def test_sqlite_attacks_are_refused(sql: str, reason: str) -> None:
    with pytest.raises(UnsafeQueryError, match=reason):
        checked_read_query(sql, "sqlite")


@pytest.mark.parametrize(
    ("sql", "runs"),
    [
        ("sElEcT 1", "SELECT 1"),
        ("SELECT 1;", "SELECT 1"),
        ("SELECT a FROM t -- note\nWHERE b = 'x;y' /* ; DELETE FROM t */", "SELECT a FROM t WHERE b = 'x;y'"),
        ("SELECT 1 /* /* */ ; DELETE FROM t; */", "SELECT 1"),
        ("WITH a AS (SELECT 1 AS x) SELECT x FROM a", "WITH a AS (SELECT 1 AS x) SELECT x FROM a"),
        ("SELECT 1 UNION ALL SELECT 2", "SELECT 1 UNION ALL SELECT 2"),
        ("VALUES (1), (2)", "VALUES (1), (2)"),
        ('SELECT "Mixed Case"."Col" FROM "Mixed Case"', 'SELECT "Mixed Case"."Col" FROM "Mixed Case"'),
        ("SELECT name FROM t WHERE name LIKE 'Tide%' ORDER BY 1 LIMIT 5", "SELECT name FROM t WHERE name LIKE 'Tide%' ORDER BY 1 LIMIT 5"),
        ("SELECT count(*) FROM generate_series(1, 10) AS g", "SELECT COUNT(*) FROM GENERATE_SERIES(1, 10) AS g"),
    ],
)
def test_read_queries_pass_and_run_as_checked(sql: str, runs: str) -> None:
    # Comments are dropped: what runs is exactly the statement the parser saw, nothing hidden in them.
    assert checked_read_query(sql, "postgres") == runs


def test_dialect_names() -> None:
    assert sqlglot_dialect("postgresql") == "postgres"
    assert sqlglot_dialect("sqlite") == "sqlite"
    assert sqlglot_dialect("mariadb") == "mysql"
    assert sqlglot_dialect("no-such-dialect") is None


def test_templates_only_name_columns() -> None:
    assert template_fields("{name} ({sku}) costs {price:.2f}") == ["name", "sku", "price"]
    for bad in ("{row.__class__}", "{x[0]}", "{}", "{0}", "{name"):
        with pytest.raises(ValueError):
            template_fields(bad)


def test_sqlite_comments_from_create_statement() -> None:
    create = (
        "CREATE TABLE tickets ( -- Customer support requests\n"
        "    id INTEGER PRIMARY KEY, -- ticket number\n"
        '    "subject" TEXT NOT NULL,\n'
        "    status TEXT -- open or solved\n"
        ")"
    )
    assert sqlite_comments(create) == ("Customer support requests", {"id": "ticket number", "status": "open or solved"})


def _source(tmp_path: Path, **values: object) -> dict[str, object]:
    return {"name": "db", "type": "sql", "url": "sqlite:///app.db", "tables": [{"table": "t", "id": "id"}], **values}


def test_config_refuses_a_password_in_the_url_without_echoing_it(tmp_path: Path) -> None:
    from orgkb.server.config import load_config

    path = write_config(tmp_path / "orgkb.toml", [_source(tmp_path, url="postgresql://bob:Hunter2-Secret@db/crm")])
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert "password_env" in str(raised.value)
    assert "Hunter2-Secret" not in str(raised.value)


def test_config_resolves_sqlite_paths_and_picks_psycopg(tmp_path: Path) -> None:
    from orgkb.server.config import load_config

    path = write_config(
        tmp_path / "orgkb.toml",
        [_source(tmp_path), _source(tmp_path, name="pg", url="postgresql://reader@db.internal:5433/crm")],
    )
    sqlite_source, pg_source = load_config(path).sources
    assert isinstance(sqlite_source, SqlConfig) and isinstance(pg_source, SqlConfig)
    assert sqlite_source.url == f"sqlite:///{tmp_path / 'app.db'}"
    assert pg_source.url == "postgresql+psycopg://reader@db.internal:5433/crm"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"table": "t", "query": "SELECT 1", "id": "id"}, "either `table` or `query`"),
        ({"query": "SELECT 1 AS id", "id": "id"}, "needs a `name`"),
        ({"table": "t", "id": "id", "text": ["a"], "template": "{a}"}, "not both"),
        ({"table": "schema", "id": "id"}, "reserved"),
        ({"table": "t", "id": "id", "metadata": ["table"]}, "clash"),
        ({"table": "t", "id": "id", "template": "{row.__class__}"}, "may only name a column"),
        ({"table": "t", "id": []}, "one or more"),
    ],
)
def test_table_entries_are_validated(tmp_path: Path, table: dict[str, object], message: str) -> None:
    from orgkb.server.config import load_config

    path = write_config(tmp_path / "orgkb.toml", [_source(tmp_path, tables=[table])])
    with pytest.raises(ConfigError, match=message):
        load_config(path)


KNOWN_DANGEROUS = {
    "ts_stat", "ts_rewrite", "query_to_xml", "query_to_xml_and_xmlschema", "cursor_to_xml", "table_to_xml",
    "database_to_xml", "schema_to_xml", "xpath", "xmltable", "dblink", "dblink_exec", "pg_terminate_backend",
    "pg_cancel_backend", "pg_advisory_lock", "pg_try_advisory_lock", "pg_advisory_xact_lock", "lo_import",
    "lo_export", "lo_from_bytea", "pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file",
    "set_config", "current_setting", "nextval", "setval", "currval", "pg_sleep", "pg_notify", "txid_current",
    "pg_reload_conf", "load_extension", "readfile", "writefile", "edit", "fts3_tokenizer", "randomblob",
    "zeroblob", "sleep", "benchmark", "load_file", "get_lock", "release_lock", "orgkb_cut",
}


def test_no_known_dangerous_function_is_on_any_allow_list() -> None:
    from orgkb.connectors.sql.allowlist import FUNCTIONS

    for dialect, names in FUNCTIONS.items():
        assert not names & KNOWN_DANGEROUS, (dialect, sorted(names & KNOWN_DANGEROUS))


@pytest.mark.parametrize(
    ("sql", "dialect", "reason"),
    [
        ("SELECT sleep(10)", "mysql", "sleep"),
        ("SELECT benchmark(100000000, md5('x'))", "mysql", "benchmark"),
        ("SELECT load_file('/etc/passwd')", "mysql", "load_file"),
        ("SELECT get_lock('x', 10)", "mysql", "get_lock"),
        ("SELECT @@version", "mysql", "not allowed"),
        ("SELECT printf('%.*c', 1000000000, 'x')", "sqlite", "widths and precisions"),
        ("SELECT printf(name, 1) FROM t", "sqlite", "string literal"),
        ("SELECT ltrim(a, b) FROM t", "sqlite", "string literal"),
        ('SELECT "Evil"(name) FROM t', "postgres", "Evil"),
        ("SELECT 1::my_domain", "postgres", "type"),
    ],
)
def test_other_dialects_and_argument_rules(sql: str, dialect: str, reason: str) -> None:
    with pytest.raises(UnsafeQueryError, match=reason):
        checked_read_query(sql, dialect)


@pytest.mark.parametrize(
    ("sql", "dialect"),
    [
        ("SELECT DATE_FORMAT(created, '%Y-%m') AS m, IFNULL(x, 0), CONCAT(a, b), COUNT(*) FROM t GROUP BY 1", "mysql"),
        ("SELECT printf('%05d', id), format('%.2f', price), trim(name, ' .') FROM t", "sqlite"),
        ("SELECT strftime('%Y', d), json_extract(j, '$.a'), j ->> '$.b', total(x) FROM t GROUP BY 1", "sqlite"),
    ],
)
def test_other_dialects_pass_ordinary_queries(sql: str, dialect: str) -> None:
    assert checked_read_query(sql, dialect)


def test_a_quoted_builtin_name_runs_the_builtin() -> None:
    # sqlglot knows LOWER, so "Lower" (an admin's own function in PostgreSQL) is rendered as the built-in.
    assert checked_read_query('SELECT "Lower"(name) FROM t', "postgres") == "SELECT LOWER(name) FROM t"
