"""The sql connector and database tools over SQLite: the Brightwater sample database, indexed with
the real model, queried through a real in-process MCP client session, and attacked."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from orgkb.connectors.sql.database import QueryError
from orgkb.server.config import load_config
from orgkb.server.embedding.embedder import Embedder
from orgkb.server.index.indexer import Indexer
from orgkb.server.index.knowledge import KnowledgeIndex
from orgkb.server.mcp.app import build_server
from orgkb.server.search.searcher import Searcher
from orgkb.server.app.service import OrgkbService
from orgkb.server.app.databases import SqlService, SqlToolError
from tests.conftest import SAMPLE_DOCS, orgkb_command, subprocess_env

# The [[sources]] entry proposed for sample_docs/orgkb.toml.
SAMPLE_SOURCE = '''
[[sources]]
name = "company-db"
type = "sql"
url = "sqlite:///databases/brightwater.db"
max_rows = 20

[[sources.tables]]
table = "products"
id = "product_id"
title = "{name} ({sku})"
template = "{name}: {summary}\\n\\n{description}\\n\\nList price {list_price_eur:.2f} EUR per store and month; {status}."
metadata = ["status"]

[[sources.tables]]
name = "support_tickets"
query = """SELECT t.ticket_id, t.subject, t.description, t.status, t.priority, t.updated_at,
  c.name AS customer, p.name AS product
  FROM support_tickets t JOIN customers c USING (customer_id) LEFT JOIN products p USING (product_id)"""
id = "ticket_id"
title = "Ticket {ticket_id}: {subject}"
template = "Ticket {ticket_id} from {customer} about {product} ({status}, {priority} priority)\\n\\n{description}"
metadata = ["status", "priority"]
updated_at = "updated_at"

[[sources.tables]]
name = "employees"
query = """SELECT e.employee_id, e.full_name, e.job_title, e.department, e.office, e.email,
  e.phone_extension, COALESCE(m.full_name, 'the shareholders') AS manager
  FROM employees e LEFT JOIN employees m ON m.employee_id = e.manager_id"""
id = "employee_id"
title = "full_name"
template = "{full_name}: {job_title}, {department}, {office} office. E-mail {email}, extension {phone_extension}. Reports to {manager}."
metadata = ["department", "office"]

[[sources.tables]]
table = "customers"
id = "customer_id"
title = "name"
'''


def sample_config(root: Path, **replace: str) -> Path:
    """The sample source over a writable copy of the sample database, in ``root``."""
    (root / "databases").mkdir(parents=True, exist_ok=True)
    shutil.copy(SAMPLE_DOCS / "databases" / "brightwater.db", root / "databases" / "brightwater.db")
    text = SAMPLE_SOURCE
    for old, new in replace.items():
        text = text.replace(old, new)
    path = root / "orgkb.toml"
    path.write_text(f'data_dir = "{root / "index"}"\n' + text, encoding="utf-8")
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_sample_database_is_searchable_cited_and_kept_in_sync(tmp_path: Path, real_embedder: Embedder) -> None:
    index = KnowledgeIndex(load_config(sample_config(tmp_path)), embedder=real_embedder)
    db = tmp_path / "databases" / "brightwater.db"
    summary = Indexer(index).run().sources[0]
    # 4 tables described + 6 products + 8 tickets + 22 employees + 7 customers.
    assert (summary.error, summary.added, summary.failed) == (None, 47, 0)
    searcher = Searcher(index)

    manager = searcher.search("office manager Lisbon", limit=3).hits[0]
    assert manager.doc_id == "company-db:employees/7" and "João Matos" in manager.text
    assert manager.uri == f"sqlite:///{db}/employees?employee_id=7"

    ticket = searcher.search("Easter forecasts far too low in Hamburg", limit=3).hits[0]
    assert ticket.title == "Ticket 1001: Easter forecast far too low in northern stores"
    assert "from Frischmarkt Nord GmbH about Tideline Forecast (solved, high priority)" in ticket.text

    table = searcher.search("which table lists problems customers reported", limit=5).hits
    assert "company-db:schema/support_tickets" in [h.doc_id for h in table[:3]]
    described = index.catalog.get_document("company-db:schema/employees")
    assert described is not None
    assert "Employee directory" in described.title and "cost_centre (integer, not null): Cost centre number" in described.as_document().text

    writer = sqlite3.connect(db)
    writer.execute(
        "UPDATE support_tickets SET status = 'solved', updated_at = '2025-07-10 09:00:00',"
        " description = 'Closure days are now flagged in Connect and the forecasts recovered.' WHERE ticket_id = 1008"
    )
    writer.execute("UPDATE products SET summary = 'Intraday forecasts for bakeries, now generally available.' WHERE product_id = 6")
    writer.execute("DELETE FROM customers WHERE customer_id = 7")
    writer.commit()
    writer.close()
    again = Indexer(index).run().sources[0]
    # The customer's row is gone, and so is its ticket: the tickets query joins customers.
    assert (again.updated, again.deleted, again.added, again.unchanged) == (2, 2, 0, 43)
    assert index.catalog.get_document("company-db:support_tickets/1006") is None
    fetched = OrgkbService(index).local().fetch("company-db:support_tickets/1008").text
    assert "recovered" in fetched and "must be flagged" not in fetched
    assert index.catalog.get_document("company-db:customers/7") is None
    assert all(h.doc_id != "company-db:customers/7" for h in searcher.search("Biohof Märkte", limit=10, mode="keyword").hits)


SQLITE_ATTACKS = [
    ("DELETE FROM products", "DELETE"),
    ("SELECT 1; DROP TABLE products", "only one statement"),
    ("WITH d AS (DELETE FROM products RETURNING *) SELECT * FROM d", "DELETE"),
    ("ATTACH DATABASE '/tmp/orgkb-attached.db' AS x", "ATTACH"),
    ("PRAGMA query_only = 0", "PRAGMA"),
    ("SELECT load_extension('/tmp/evil.so')", "load_extension"),
    ("SELECT writefile('/tmp/orgkb-written', 'x')", "writefile"),
    ("VACUUM INTO '/tmp/orgkb-copy.db'", "VACUUM"),
    ("REPLACE INTO products SELECT * FROM products", "REPLACE"),
    ("SELECT 1 /* ; */; UPDATE products SET name = 'x'", "only one statement"),
]


def test_sqlite_attacks_are_refused_and_the_file_is_untouched(tmp_path: Path) -> None:
    config = load_config(sample_config(tmp_path, **{"max_rows = 20": "max_rows = 20\nstatement_timeout = 0.5"}))
    db = tmp_path / "databases" / "brightwater.db"
    before = digest(db)
    tools = SqlService(config)
    for sql, reason in SQLITE_ATTACKS:
        with pytest.raises(SqlToolError, match=reason):
            tools.query("company-db", sql)
    # Second layer alone: the file is opened read-only, whatever reaches it.
    database = tools.database("company-db")
    for statement in ("DELETE FROM products", "PRAGMA query_only = 0; DELETE FROM products"):
        with pytest.raises(QueryError, match="readonly|read-only"), database.read_only() as connection:
            for part in statement.split("; "):
                connection.exec_driver_sql(part)
    started = time.monotonic()
    with pytest.raises(SqlToolError, match=r"statement timeout \(0.5 s\)"):
        tools.query("company-db", "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c) SELECT count(*) FROM c")
    assert time.monotonic() - started < 3
    assert digest(db) == before
    assert sorted(p.name for p in db.parent.iterdir()) == ["brightwater.db"]
    assert not Path("/tmp/orgkb-attached.db").exists() and not Path("/tmp/orgkb-copy.db").exists()


async def _mcp_checks(server: Any) -> None:
    async with Client(server) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        for name in ("list_tables", "describe_table", "sql_query"):
            tool = tools[name]
            assert tool.output_schema is not None and tool.title
            assert tool.annotations is not None and tool.annotations.read_only_hint and tool.annotations.idempotent_hint
        assert tools["sql_query"].input_schema["properties"]["limit"]["anyOf"][0]["maximum"] == 20

        listing = (await client.call_tool("list_tables", {"source": "company-db"})).structured_content
        names = {t["name"]: t for t in listing["tables"]}
        assert set(names) == {"customers", "employees", "products", "support_tickets"}
        assert names["support_tickets"]["comment"].startswith("Customer support requests")
        assert names["products"]["indexed_rows"] is True and names["employees"]["indexed_rows"] is False

        described = await client.call_tool("describe_table", {"source": "company-db", "table": "support_tickets"})
        table = described.structured_content
        assert table["primary_key"] == ["ticket_id"] and table["row_estimate"] == 8 and table["row_count_exact"]
        columns = {c["name"]: c for c in table["columns"]}
        assert columns["status"]["comment"] == "open, pending (waiting for the customer) or solved"
        assert columns["subject"]["nullable"] is False
        assert {"columns": ["customer_id"], "references_table": "customers", "references_columns": ["customer_id"]} in table["foreign_keys"]
        assert "Customer support requests" in described.content[0].text

        result = await client.call_tool(
            "sql_query",
            {"source": "company-db", "sql": "SELECT full_name, office FROM employees WHERE office = 'Lisbon' ORDER BY employee_id", "limit": 3},
        )
        rows = result.structured_content
        assert (rows["columns"], rows["rows"][0], rows["row_count"], rows["truncated"]) == (
            ["full_name", "office"], ["Tomás Figueira", "Lisbon"], 3, True,
        )
        assert "TRUNCATED" in result.content[0].text
        whole = (await client.call_tool("sql_query", {"source": "company-db", "sql": "SELECT count(*) AS n FROM products"})).structured_content
        assert (whole["rows"], whole["truncated"]) == ([[6]], False)

        refused = await client.call_tool("sql_query", {"source": "company-db", "sql": "SELECT 1; DELETE FROM products"})
        assert refused.is_error and "only one statement" in refused.content[0].text
        too_many = await client.call_tool("sql_query", {"source": "company-db", "sql": "SELECT 1", "limit": 5000})
        assert too_many.is_error and "limit" in too_many.content[0].text
        unknown = await client.call_tool("describe_table", {"source": "company-db", "table": "invoices"})
        assert unknown.is_error and "no table or view 'invoices'" in unknown.content[0].text
        wrong_source = await client.call_tool("list_tables", {"source": "wiki"})
        assert wrong_source.is_error and "company-db" in wrong_source.content[0].text

        resources = {str(r.uri) for r in (await client.list_resources()).resources}
        assert "orgkb://schema/company-db" in resources
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        assert "orgkb://schema/{source}/{table}" in templates
        listing_text = (await client.read_resource("orgkb://schema/company-db")).contents[0].text
        assert "- products (table): Product catalogue" in listing_text
        schema_text = (await client.read_resource("orgkb://schema/company-db/employees")).contents[0].text
        assert "manager_id (integer, nullable, references employees.employee_id): Line manager" in schema_text


def test_mcp_tools_through_a_client_session(tmp_path: Path, real_embedder: Embedder) -> None:
    index = KnowledgeIndex(load_config(sample_config(tmp_path)), embedder=real_embedder)
    anyio.run(_mcp_checks, build_server(OrgkbService(index), warm_up=False))


def test_orgkb_check_reports_the_writable_file(tmp_path: Path) -> None:
    config = sample_config(tmp_path)
    process = subprocess.run(
        orgkb_command("--config", str(config), "check"), capture_output=True, text=True, env=subprocess_env(), timeout=120
    )
    assert process.returncode == 0, process.stderr
    assert "✓ company-db" in process.stdout
    assert "writable by this process; orgkb opens it read-only anyway" in process.stdout
    broken = sample_config(tmp_path / "broken", **{'title = "name"\n': 'title = "name"\ntext = ["no_such_column"]\n'})
    failed = subprocess.run(
        orgkb_command("--config", str(broken), "check"), capture_output=True, text=True, env=subprocess_env(), timeout=120
    )
    assert failed.returncode == 1
    assert "customers has no column(s) no_such_column" in failed.stdout


SQLITE_ATTACK_CLASSES: dict[str, list[str]] = {
    "extensions and files": [
        "SELECT load_extension('/tmp/orgkb-evil.so')",
        "SELECT writefile('/tmp/orgkb-written', 'x')",
        "SELECT readfile('/etc/passwd')",
        "SELECT fts3_tokenizer('simple')",
        "ATTACH DATABASE '/tmp/orgkb-attached.db' AS x",
        "VACUUM INTO '/tmp/orgkb-copy.db'",
    ],
    "settings and connection state": [
        "PRAGMA query_only = 0",
        "SELECT * FROM pragma_table_info('products')",
        "SELECT changes()",
        "SELECT last_insert_rowid()",
        "SELECT sqlite_compileoption_get(0)",
    ],
    "writes and writable CTEs": [
        "WITH d AS (DELETE FROM products RETURNING *) SELECT count(*) FROM d",
        "UPDATE products SET name = 'x' RETURNING *",
        "INSERT INTO customers SELECT * FROM customers",
        "REPLACE INTO products SELECT * FROM products",
    ],
    "amplifiers and orgkb's own functions": [
        "SELECT randomblob(1000000000)",
        "SELECT zeroblob(1000000000)",
        "SELECT hex(zeroblob(100000000))",
        "SELECT orgkb_cut(description, 100000000) FROM products",
    ],
    "obfuscation": [
        'SELECT "load_extension"(\'/tmp/orgkb-evil.so\')',
        "SELECT [load_extension]('/tmp/orgkb-evil.so')",
        "SELECT `load_extension`('/tmp/orgkb-evil.so')",
        "SELECT LoAd_ExTeNsIoN('/tmp/orgkb-evil.so')",
        "SELECT main.load_extension('/tmp/orgkb-evil.so')",
        "SELECT/**/writefile/**/('/tmp/orgkb-written', 'x')",
        "SELECT lower(readfile('/etc/passwd'))",
        "SELECT * FROM products WHERE EXISTS (SELECT writefile('/tmp/orgkb-written', name))",
        "WITH f AS (SELECT readfile('/etc/passwd') AS t) SELECT * FROM f",
        "SELECT name FROM products ORDER BY randomblob(10)",
    ],
}

REASONS = ("not on the allow-list", "is not allowed", "only one statement", "only read queries", "could not be parsed")


def test_sqlite_attack_classes_are_refused_by_the_allow_list(tmp_path: Path) -> None:
    config = load_config(sample_config(tmp_path))
    db = tmp_path / "databases" / "brightwater.db"
    before = digest(db)
    tools = SqlService(config)
    for kind, payloads in SQLITE_ATTACK_CLASSES.items():
        for sql in payloads:
            with pytest.raises(SqlToolError) as refused:
                tools.query("company-db", sql)
            message = str(refused.value)
            assert "query refused" in message and any(r in message for r in REASONS), (kind, sql, message)
    assert digest(db) == before
    assert sorted(p.name for p in db.parent.iterdir()) == ["brightwater.db"]
    assert not any(Path(p).exists() for p in ("/tmp/orgkb-written", "/tmp/orgkb-attached.db", "/tmp/orgkb-copy.db"))


SQLITE_LEGITIMATE = [
    "SELECT c.name, count(t.ticket_id) AS tickets, sum(t.status = 'open') AS open FROM customers c"
    " LEFT JOIN support_tickets t USING (customer_id) GROUP BY c.name HAVING count(*) > 0 ORDER BY tickets DESC, c.name",
    "SELECT product_id, name, list_price_eur, rank() OVER (ORDER BY list_price_eur DESC) AS r,"
    " sum(list_price_eur) OVER (PARTITION BY status) AS by_status, lag(name) OVER (ORDER BY product_id) AS previous FROM products",
    "WITH per_office AS (SELECT office, count(*) AS n FROM employees GROUP BY office)"
    " SELECT e.full_name, p.n, COALESCE(m.full_name, '-') AS manager FROM employees e JOIN per_office p USING (office)"
    " LEFT JOIN employees m ON m.employee_id = e.manager_id WHERE e.full_name LIKE '%a%' ORDER BY e.employee_id LIMIT 8",
    "SELECT ticket_id, date(opened_at) AS day, strftime('%Y-%m', opened_at) AS month, julianday(updated_at) - julianday(opened_at) AS days,"
    " datetime(opened_at, '+7 days') AS follow_up, CAST(strftime('%w', opened_at) AS INTEGER) AS weekday FROM support_tickets ORDER BY 1",
    "SELECT json_extract(j, '$.name') AS name, j ->> '$.stores' AS stores, json_array_length(j, '$.tags') AS tags FROM"
    " (SELECT json_object('name', name, 'stores', stores, 'tags', json_array(segment, country)) AS j FROM customers) ORDER BY 1",
    "SELECT upper(substr(name, 1, 3)) AS code, length(name) AS len, CASE WHEN segment = 'grocery' THEN 'food' ELSE 'other' END AS kind,"
    " iif(stores > 100, 'large', 'small') AS size, replace(lower(name), ' ', '-') AS slug, instr(name, 'e') AS e_at,"
    " trim('  ' || country || '  ') AS c, printf('%05d', customer_id) AS padded, ifnull(NULL, stores) AS s, round(stores / 3.0, 2) AS third"
    " FROM customers WHERE name NOT LIKE 'Z%' ORDER BY 1",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 4) SELECT n, n * n AS sq, n % 2 AS odd FROM r"
    " WHERE n IN (SELECT product_id FROM products) UNION ALL SELECT * FROM (VALUES (10, 100, 0)) ORDER BY 1",
    "SELECT status, priority, count(*) AS n, group_concat(ticket_id, ',') AS ids, min(opened_at) AS first, max(ticket_id) AS last,"
    " avg(ticket_id) AS mean, typeof(avg(ticket_id)) AS t FROM support_tickets GROUP BY status, priority ORDER BY status, priority",
]


def test_sqlite_legitimate_queries_return_what_sqlite_returns(tmp_path: Path) -> None:
    tools = SqlService(load_config(sample_config(tmp_path)))
    direct = sqlite3.connect(tmp_path / "databases" / "brightwater.db")
    for sql in SQLITE_LEGITIMATE:
        result = tools.query("company-db", sql, limit=20)
        cursor = direct.execute(sql)
        expected = [list(row) for row in cursor.fetchall()]
        assert result.rows == expected, sql
        assert result.columns == [d[0] for d in cursor.description], sql
        assert expected and not result.truncated and result.cells_cut == 0


BIG = "replace(replace(replace(printf('%.900c', 'x'), 'x', 'xxxxxxxxxx'), 'x', 'xxxxxxxxxx'), 'x', 'xxxxxxxxxx')"
"""900,000 characters built by one expression: under the bound on one value."""
TWENTY = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 20) "


def test_sqlite_amplification_is_bounded(tmp_path: Path) -> None:
    config = load_config(sample_config(tmp_path, **{"max_rows = 20": "max_rows = 20\nmax_cell_chars = 100\nstatement_timeout = 5"}))
    tools = SqlService(config)
    cut = tools.query("company-db", TWENTY + f"SELECT n, {BIG} AS big, x'00ff' AS blob FROM r")
    assert cut.row_count == 20 and cut.cells_cut == 20
    assert cut.rows[0] == [1, "x" * 100 + "…", "base64:AP8="]
    for amplifier in (
        f"SELECT length(replace({BIG}, 'x', 'xx'))",
        "WITH RECURSIVE d(s) AS (SELECT 'x' UNION ALL SELECT s || s FROM d) SELECT length(s) FROM d",
        TWENTY + f"SELECT length(group_concat({BIG})) FROM r",
    ):
        with pytest.raises(SqlToolError, match="string or blob too big.*orgkb bounds a query's values to 1,000,000 bytes"):
            tools.query("company-db", amplifier)
    # Calls that would run for as long as one argument says are refused before they run.
    for long_call, reason in (
        ("SELECT length(printf('%.*c', 2000000000, 'x'))", r"widths and precisions must be literal numbers below 1000 \(no \*\)"),
        ("SELECT printf('%2000000000c', 'x')", "widths and precisions"),
        ("SELECT trim(description, description) FROM products", "needs its argument 2 as a string literal"),
    ):
        with pytest.raises(SqlToolError, match=reason):
            tools.query("company-db", long_call)
    with pytest.raises(SqlToolError, match="pattern too complex"):
        tools.query("company-db", "SELECT count(*) FROM products WHERE description LIKE replace(printf('%.300c', 'x'), 'x', '%a')")
    # The bound is the database's own (layer 2), not the allow-list's: it holds for any statement.
    database = tools.database("company-db")
    for blob in ("SELECT randomblob(2000000000)", "SELECT zeroblob(2000000000)"):
        with pytest.raises(QueryError, match="too big"), database.read_only(caller_sql=True) as connection:
            connection.exec_driver_sql(blob)
    # Indexing connections keep SQLite's own limits, and the pooled connection is restored after a query.
    with database.read_only() as connection:
        assert connection.exec_driver_sql("SELECT length(zeroblob(20000000))").scalar() == 20_000_000
    assert tools.query("company-db", "SELECT count(*) FROM products").rows == [[6]]


_MEASURE = """
import json, resource, sys
from orgkb.server.config import load_config
from orgkb.server.app.databases import SqlService
tools = SqlService(load_config(sys.argv[1]))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = tools.query("company-db", sys.argv[2])
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"rows": result.row_count, "cut": result.cells_cut, "growth_kb": after - before}))
"""


def test_sqlite_amplification_does_not_grow_orgkb(tmp_path: Path) -> None:
    config = sample_config(tmp_path, **{"max_rows = 20": "max_rows = 20\nstatement_timeout = 30"})
    sql = TWENTY + f"SELECT {BIG}, upper({BIG}), {BIG} || 'z' FROM r"
    process = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(config), sql], capture_output=True, text=True, timeout=120, env=subprocess_env()
    )
    assert process.returncode == 0, process.stderr[-2000:]
    measured = json.loads(process.stdout)
    assert (measured["rows"], measured["cut"]) == (20, 60)
    # Unbounded, these 60 values are 54 MB in Python alone; bounded, SQLite holds about one at a time.
    assert measured["growth_kb"] < 20_000, measured
