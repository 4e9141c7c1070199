"""The sql connector and database tools against a real PostgreSQL 15 server started by the tests.

Rows are indexed with the real model into a real Chroma and found through the real search
path; every attack is tried with a role that *can* write (the worst case: the guard and the
read-only transaction are all that stand in the way) and the data is read back unchanged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from orgkb.connectors.base import ConnectorError, CredentialsError
from orgkb.connectors.registry import build_connector
from orgkb.connectors.sql.database import QueryError, SqlDatabase
from orgkb.server.config import OrgkbConfig
from orgkb.server.embedding.embedder import Embedder
from orgkb.server.index.indexer import Indexer
from orgkb.server.index.knowledge import KnowledgeIndex
from orgkb.server.mcp.app import build_server
from orgkb.server.search.searcher import Searcher
from orgkb.server.app.service import OrgkbService
from orgkb.server.app.databases import SqlService, SqlToolError
from tests.conftest import IndexFactory
from tests.postgres_server import SUPERUSER_PASSWORD, PostgresServer

READER_PASSWORD = "Reader-Secret-9f3a"
WRITER_PASSWORD = "Writer-Secret-77b1"
PWNED = Path("/tmp/orgkb-pwned-by-copy")

SCHEMA = """
CREATE TABLE customers (customer_id int PRIMARY KEY, name text NOT NULL, city text, segment text);
COMMENT ON TABLE customers IS 'Retail chains that subscribe to Tideline';
CREATE TABLE ar_documents (
    doc_no text PRIMARY KEY, customer_id int NOT NULL REFERENCES customers, issued_on date,
    amount_eur numeric(10, 2), status text);
COMMENT ON TABLE ar_documents IS 'Accounts receivable: invoices sent to customers, one row per invoice';
COMMENT ON COLUMN ar_documents.amount_eur IS 'Invoice total in euros including VAT';
CREATE TABLE support_tickets (
    ticket_id serial PRIMARY KEY, customer_id int REFERENCES customers, subject text NOT NULL, body text,
    status text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
COMMENT ON TABLE support_tickets IS 'Customer support requests about the Tideline platform';
CREATE TABLE order_lines (order_id int, line_no int, article text, qty int, PRIMARY KEY (order_id, line_no));
CREATE TABLE audit_log (id serial PRIMARY KEY, note text);
CREATE SEQUENCE invoice_numbers;
-- Functions an admin defined: the guard cannot know what they do.
CREATE FUNCTION log_visit() RETURNS int LANGUAGE plpgsql AS $$
BEGIN INSERT INTO audit_log(note) VALUES ('visited'); RETURN 1; END $$;
CREATE FUNCTION slow_report() RETURNS int LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(30); RETURN 1; END $$;
INSERT INTO customers VALUES
    (1, 'Frischmarkt Nord GmbH', 'Hamburg', 'grocery'), (2, 'Mercado Atlântico', 'Lisbon', 'grocery'),
    (3, 'Modehaus Lindner', 'Munich', 'fashion');
INSERT INTO ar_documents VALUES
    ('INV-2025-001', 1, '2025-01-31', 4116.00, 'paid'), ('INV-2025-002', 2, '2025-01-31', 2989.00, 'paid'),
    ('INV-2025-003', 3, '2025-02-28', 1127.50, 'overdue');
INSERT INTO support_tickets (customer_id, subject, body, status, updated_at) VALUES
    (1, 'Easter forecast too low', 'Forecasts for Easter week in the Hamburg stores are far below last year.', 'open', '2025-04-10 08:00+00'),
    (2, 'Sales import rejected', 'The nightly SFTP sales file is rejected because the date format changed.', 'pending', '2025-06-02 07:30+00'),
    (3, 'Single sign-on fails', 'New users cannot log in through Okta single sign-on; they see user not assigned.', 'open', '2025-02-14 13:10+00');
INSERT INTO order_lines SELECT o, l, 'article ' || o || '-' || l, o * l FROM generate_series(1, 9) o, generate_series(1, 3) l;
CREATE ROLE crm_reader LOGIN PASSWORD 'Reader-Secret-9f3a';
GRANT SELECT ON ALL TABLES IN SCHEMA public TO crm_reader;
CREATE ROLE crm_writer LOGIN PASSWORD 'Writer-Secret-77b1';
GRANT ALL ON ALL TABLES IN SCHEMA public TO crm_writer;
GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO crm_writer;
GRANT CREATE ON SCHEMA public TO crm_writer;
"""

TABLES: list[dict[str, Any]] = [
    {
        "table": "support_tickets", "id": "ticket_id", "title": "Ticket {ticket_id}: {subject}",
        "text": ["subject", "body", "status"], "metadata": ["status"], "updated_at": "updated_at",
    },
    {"table": "customers", "id": "customer_id", "title": "name"},
    {
        "name": "invoices", "id": "doc_no", "metadata": ["status"],
        "query": "SELECT d.doc_no, d.amount_eur, d.status, c.name AS customer FROM ar_documents d JOIN customers c USING (customer_id)",
        "template": "Invoice {doc_no} to {customer}: {amount_eur} EUR, {status}.",
    },
    {"table": "order_lines", "id": ["order_id", "line_no"], "template": "Order {order_id} line {line_no}: {qty} x {article}"},
]


@pytest.fixture(scope="module")
def crm(postgres: PostgresServer) -> Iterator[PostgresServer]:
    postgres.execute("CREATE DATABASE crm")
    postgres.execute(SCHEMA, "crm")
    yield postgres
    postgres.execute("DROP DATABASE crm WITH (FORCE)")
    postgres.execute("DROP ROLE crm_reader; DROP ROLE crm_writer")


@pytest.fixture
def passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_READER_PW", READER_PASSWORD)
    monkeypatch.setenv("CRM_WRITER_PW", WRITER_PASSWORD)
    monkeypatch.setenv("CRM_SUPER_PW", SUPERUSER_PASSWORD)


def source(server: PostgresServer, role: str = "reader", **values: Any) -> dict[str, Any]:
    """The crm source as ``role``: reader (SELECT only), writer (ALL on the tables) or super (postgres)."""
    user = "postgres" if role == "super" else f"crm_{role}"
    return {
        "name": "crm", "type": "sql", "url": server.url(user, "crm"),
        "password_env": f"CRM_{role.upper()}_PW", "page_size": 10, "tables": TABLES, **values,
    }


def services(server: PostgresServer, role: str, **values: Any) -> SqlService:
    return SqlService(OrgkbConfig.model_validate({"sources": [source(server, role, **values)]}))


def snapshot(server: PostgresServer) -> dict[str, Any]:
    """Everything an attack could change, read as superuser."""
    out: dict[str, Any] = {}
    for table in ("customers", "ar_documents", "support_tickets", "order_lines", "audit_log"):
        out[table] = server.execute(f"SELECT * FROM {table} ORDER BY 1", "crm")
    out["tables"] = server.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1", "crm")
    out["sequence"] = server.execute("SELECT last_value, is_called FROM invoice_numbers", "crm")
    out["large_objects"] = server.execute("SELECT count(*) FROM pg_largeobject_metadata", "crm")
    out["settings"] = server.execute("SELECT setting FROM pg_settings WHERE name = 'default_transaction_read_only'")
    return out


def test_rows_are_found_cited_updated_and_deleted(
    crm: PostgresServer, passwords: None, make_index: IndexFactory, real_embedder: Embedder
) -> None:
    index = make_index([source(crm)], real_embedder)
    first = Indexer(index).run()
    assert first.ok, first.sources[0].error
    # 5 table descriptions + 3 tickets + 3 customers + 3 invoices + 27 order lines (3 pages of 10).
    assert (first.total("added"), first.total("failed")) == (41, 0)
    searcher = Searcher(index)

    top = searcher.search("users cannot log in with single sign-on", limit=3).hits[0]
    assert top.doc_id == "crm:support_tickets/3"
    assert top.title == "Ticket 3: Single sign-on fails"
    assert top.uri == f"postgresql://127.0.0.1:{crm.port}/crm/support_tickets?ticket_id=3"
    assert "crm_reader" not in top.uri and READER_PASSWORD not in top.uri
    # The citation uri opens the row's document, as for files.
    assert "Okta" in OrgkbService(index).local().fetch(top.uri).text

    invoice = searcher.search("invoice to Modehaus Lindner", limit=3).hits[0]
    assert (invoice.doc_id, invoice.text) == ("crm:invoices/INV-2025-003", "Invoice INV-2025-003 to Modehaus Lindner: 1127.50 EUR, overdue.")
    line = searcher.search("Order 7 line 2", limit=1, mode="keyword").hits[0]
    assert (line.doc_id, line.uri.split("?")[1]) == ("crm:order_lines/7/2", "order_id=7&line_no=2")

    hits = searcher.search("which table holds invoices", limit=5).hits
    assert "crm:schema/ar_documents" in [h.doc_id for h in hits[:3]]
    from orgkb.server.store.filters import SearchFilters

    tables = searcher.search("which table holds invoices", limit=3, filters=SearchFilters(file_types=["schema"])).hits
    assert tables[0].doc_id == "crm:schema/ar_documents"
    assert "Invoice total in euros including VAT" in tables[0].text

    crm.execute(
        "UPDATE support_tickets SET body = 'Solved: the Okta group was missing the Tideline app.', status = 'solved',"
        " updated_at = now() WHERE ticket_id = 3; UPDATE customers SET city = 'Bremen' WHERE customer_id = 1;"
        " DELETE FROM support_tickets WHERE ticket_id = 2",
        "crm",
    )
    second = Indexer(index).run().sources[0]
    assert (second.updated, second.deleted, second.added, second.failed) == (2, 1, 0, 0)
    assert second.unchanged == 41 - 3
    solved = searcher.search("what fixed the single sign-on problem", limit=1).hits[0]
    assert solved.doc_id == "crm:support_tickets/3" and "Okta group was missing" in solved.text
    assert "user not assigned" not in OrgkbService(index).local().fetch("crm:support_tickets/3").text
    assert index.catalog.get_document("crm:support_tickets/2") is None
    for mode in ("semantic", "keyword", "hybrid"):
        found = searcher.search("SFTP sales file date format rejected", limit=10, mode=mode).hits
        assert all(h.doc_id != "crm:support_tickets/2" for h in found), mode
    assert "Bremen" in OrgkbService(index).local().fetch("crm:customers/1").text

    third = Indexer(index).run().sources[0]
    assert (third.chunks_embedded, third.updated, third.unchanged) == (0, 0, 40)


ATTACKS = [
    ("SELECT 1; DELETE FROM support_tickets", "only one statement"),
    ("COMMIT; DROP TABLE support_tickets", "only one statement"),
    ("SET default_transaction_read_only = off", "not SET"),
    ("WITH x AS (DELETE FROM support_tickets RETURNING *) SELECT * FROM x", "DELETE is not allowed"),
    (f"COPY (SELECT 1) TO PROGRAM 'touch {PWNED}'", "COPY"),
    ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity", "pg_terminate_backend"),
    ("SELECT lo_import('/etc/passwd')", "lo_import"),
    ("SELECT pg_sleep(60)", "pg_sleep"),
    ("SELECT * INTO stolen FROM support_tickets", "INTO"),
    ("SELECT * FROM support_tickets FOR UPDATE", "row lock"),
    ("SELECT 1 /* ; */; DELETE FROM support_tickets", "only one statement"),
    ("sElEcT 1; dElEtE fRoM support_tickets", "only one statement"),
    ("SELECT 'a\\'; DELETE FROM support_tickets; --'", "only one statement"),
    ("DO $$ BEGIN DELETE FROM support_tickets; END $$", "DO"),
    ("EXPLAIN ANALYZE DELETE FROM support_tickets", "EXPLAIN"),
    ("SELECT nextval('invoice_numbers')", "nextval"),
    ("SELECT set_config('default_transaction_read_only', 'off', false)", "set_config"),
    ("SELECT query_to_xml('DELETE FROM support_tickets', true, true, '')", "query_to_xml"),
    ("CALL log_visit()", "CALL"),
    ("TRUNCATE support_tickets", "TRUNCATE"),
]


def test_attacks_are_refused_and_change_nothing(crm: PostgresServer, passwords: None) -> None:
    before = snapshot(crm)
    # A session that must survive: pg_terminate_backend would end it.
    with crm.connect("crm") as bystander:
        backends = crm.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
        tools = services(crm, "writer", statement_timeout=2, allow_write_capable_role=True)
        for sql, reason in ATTACKS:
            with pytest.raises(SqlToolError, match=reason) as refused:
                tools.query("crm", sql)
            assert "query refused" in str(refused.value), sql
        # A nested comment reads differently in PostgreSQL and in many parsers: what runs is
        # what was checked (SELECT 1), never the DELETE hidden in the comment.
        tricky = tools.query("crm", "SELECT 1 AS one /* /* */ ; DELETE FROM support_tickets; */")
        assert (tricky.sql, tricky.rows) == ("SELECT 1 AS one", [[1]])
        assert bystander.execute("SELECT 1").fetchone() == (1,)
        assert crm.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'") >= backends
    assert snapshot(crm) == before
    assert not PWNED.exists()


def test_read_only_transaction_stops_what_the_guard_cannot_see(crm: PostgresServer, passwords: None) -> None:
    before = snapshot(crm)
    tools = services(crm, "writer", statement_timeout=1, allow_write_capable_role=True)
    # The second layer on its own, with the statement check bypassed entirely: an admin-defined
    # function that inserts (the allow-list refuses to call it) is stopped by the transaction.
    database = tools.database("crm")
    for statement in (
        "SELECT log_visit()", "DELETE FROM support_tickets", "SET transaction_read_only = off", "CREATE TABLE x (a int)",
    ):
        with pytest.raises(QueryError, match="read-only|read-write"), database.read_only() as connection:
            connection.exec_driver_sql(statement)
    # Long-running work is cancelled by the statement timeout (here 1 s).
    for slow in ("SELECT count(*) FROM generate_series(1, 10000000000)", "SELECT count(*) FROM order_lines a, generate_series(1, 1000000000) g"):
        started = time.monotonic()
        with pytest.raises(SqlToolError, match=r"statement timeout \(1 s\)"):
            tools.query("crm", slow)
        assert time.monotonic() - started < 5, slow
    assert snapshot(crm) == before


def test_check_refuses_a_role_that_can_write_unless_allowed(crm: PostgresServer, passwords: None) -> None:
    def connector(role: str, **values: Any) -> Any:
        return build_connector(OrgkbConfig.model_validate({"sources": [source(crm, role, **values)]}).sources[0])

    assert connector("reader").check() == []
    for role, finding in (("writer", "crm_writer can write to 5 table(s)"), ("super", "role postgres is a superuser")):
        with pytest.raises(ConnectorError) as refused:
            connector(role).check()
        message = str(refused.value)
        assert "SQL queries are refused" in message and finding in message and "allow_write_capable_role = true" in message
        assert "\n" not in message
    warnings = connector("writer", allow_write_capable_role=True).check()
    assert any("crm_writer can write to 5 table(s)" in w for w in warnings), warnings
    assert any("advance 3 sequence(s)" in w for w in warnings), warnings
    assert any("create objects in schema(s) public" in w for w in warnings), warnings
    # Without sql_query there is nothing to refuse: the findings stay warnings.
    assert any("can write to" in w for w in connector("writer", allow_queries=False).check())


def test_server_refuses_queries_over_a_writer_but_still_describes_and_indexes(
    crm: PostgresServer, passwords: None, make_index: IndexFactory, hashing_embedder: Any
) -> None:
    before = snapshot(crm)
    tools = services(crm, "writer")
    with pytest.raises(SqlToolError, match="SQL queries are refused because the database account can do more than read") as refused:
        tools.query("crm", "SELECT count(*) FROM customers")
    assert "allow_write_capable_role = true" in str(refused.value) and "\n" not in str(refused.value)
    assert "customers" in {t.name for t in tools.list_tables("crm").tables}
    assert tools.describe_table("crm", "customers").primary_key == ["customer_id"]
    summary = Indexer(make_index([source(crm, "writer")], hashing_embedder)).run().sources[0]
    tickets = crm.execute("SELECT count(*) FROM support_tickets", "crm")[0][0]
    # 5 table descriptions + tickets + 3 customers + 3 invoices + 27 order lines.
    assert (summary.error, summary.failed, summary.added) == (None, 0, 5 + tickets + 3 + 3 + 27)
    assert services(crm, "writer", allow_write_capable_role=True).query("crm", "SELECT count(*) FROM customers").rows == [[3]]
    assert snapshot(crm) == before


def test_secrets_never_appear_in_errors_results_or_logs(
    crm: PostgresServer, monkeypatch: pytest.MonkeyPatch, make_index: IndexFactory, real_embedder: Embedder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = "Wrong-Password-31337"
    monkeypatch.setenv("CRM_READER_PW", wrong)
    caplog.set_level(logging.DEBUG)
    connector = build_connector(OrgkbConfig.model_validate({"sources": [source(crm)]}).sources[0])
    with pytest.raises(CredentialsError) as refused:
        connector.check()
    assert "password authentication failed" in str(refused.value) and "CRM_READER_PW" in str(refused.value)
    index = make_index([source(crm)], real_embedder)
    summary = Indexer(index).run().sources[0]
    assert summary.error is not None and "password authentication failed" in summary.error
    with pytest.raises(SqlToolError, match="refused the login") as tool_error:
        services(crm, "reader").list_tables("crm")
    monkeypatch.setenv("CRM_READER_PW", READER_PASSWORD)
    with pytest.raises(SqlToolError, match='relation "no_such_table" does not exist') as query_error:
        services(crm, "reader").query("crm", "SELECT * FROM no_such_table")
    seen = [str(refused.value), summary.error, str(tool_error.value), str(query_error.value), caplog.text,
            index.catalog.source_state("crm").last_error or ""]
    for text in seen:
        assert wrong not in text and READER_PASSWORD not in text
    assert SqlDatabase(connector.config).label == f"postgresql://127.0.0.1:{crm.port}/crm"  # type: ignore[arg-type]


async def _mcp_checks(server: Any, port: int, tickets: int) -> None:
    async with Client(server) as client:
        tables = (await client.call_tool("list_tables", {"source": "crm"})).structured_content
        assert tables["database"] == f"postgresql://127.0.0.1:{port}/crm"
        comments = {t["name"]: t["comment"] for t in tables["tables"]}
        assert comments["ar_documents"].startswith("Accounts receivable: invoices")
        described = (await client.call_tool("describe_table", {"source": "crm", "table": "ar_documents"})).structured_content
        assert described["primary_key"] == ["doc_no"] and described["row_estimate"] == 3
        assert described["foreign_keys"] == [{"columns": ["customer_id"], "references_table": "customers", "references_columns": ["customer_id"]}]
        amount = next(c for c in described["columns"] if c["name"] == "amount_eur")
        assert (amount["type"], amount["comment"]) == ("numeric(10, 2)", "Invoice total in euros including VAT")
        rows = await client.call_tool(
            "sql_query", {"source": "crm", "sql": "SELECT order_id, line_no, qty FROM order_lines ORDER BY 1, 2", "limit": 4}
        )
        assert rows.structured_content["rows"] == [[1, 1, 1], [1, 2, 2], [1, 3, 3], [2, 1, 2]]
        assert rows.structured_content["truncated"] is True
        totals = await client.call_tool("sql_query", {"source": "crm", "sql": "SELECT status, sum(amount_eur) AS total FROM ar_documents GROUP BY status ORDER BY 1"})
        assert totals.structured_content["rows"] == [["overdue", 1127.5], ["paid", 7105]]
        refused = await client.call_tool("sql_query", {"source": "crm", "sql": "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"})
        assert refused.is_error and "pg_terminate_backend" in refused.content[0].text
        text = (await client.read_resource("orgkb://schema/crm/support_tickets")).contents[0].text
        assert "Customer support requests about the Tideline platform" in text and f"Rows: {tickets}" in text


def test_mcp_tools_on_postgres(crm: PostgresServer, passwords: None, real_embedder: Embedder, tmp_path: Path) -> None:
    config = OrgkbConfig.model_validate({"data_dir": str(tmp_path), "sources": [source(crm)]})
    server = build_server(OrgkbService(KnowledgeIndex(config, embedder=real_embedder)), warm_up=False)
    tickets = crm.execute("SELECT count(*) FROM support_tickets", "crm")[0][0]
    anyio.run(_mcp_checks, server, crm.port, tickets)
