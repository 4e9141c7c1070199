"""The sql connector and database tools over SQLite: the Brightwater sample database, indexed with
the real model, queried through a real in-process MCP client session, and attacked."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
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
