"""The allow-list and the in-database bounds against a real PostgreSQL 15 server (issue 14).

Every attack class is tried as a SELECT-only role and as a superuser (the worst case: the
statement check and the read-only transaction are all that stand in the way); afterwards the
data, the sequences, the locks, the other sessions and the server's files are as before. Then a
realistic set of analytical queries must still work, with their values' types intact, and
amplification queries must come back cut without growing orgkb's memory.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.postgres_server import PostgresServer
from tests.test_sql_postgres import crm, passwords, services, snapshot, source  # noqa: F401 (fixtures)

PWNED = Path("/tmp/orgkb-allowlist-pwned")

REASONS = ("not on the allow-list", "is not allowed", "only one statement", "only read queries", "could not be parsed")

ATTACK_CLASSES: dict[str, list[str]] = {
    "query in a string": [
        "SELECT * FROM ts_stat('SELECT to_tsvector(pg_terminate_backend(pid)::text) FROM pg_stat_activity')",
        "SELECT query_to_xml('SELECT pg_advisory_lock(4242)', true, false, '')",
        "SELECT query_to_xml_and_xmlschema('DELETE FROM customers RETURNING 1', true, false, '')",
        "SELECT ts_rewrite('a'::tsquery, 'SELECT ''a''::tsquery, ''b''::tsquery')",
        "SELECT xpath('/row', query_to_xml('SELECT 1', true, false, ''))",
        "SELECT database_to_xml(true, true, '')",
        "SELECT * FROM dblink('dbname=crm', 'DROP TABLE customers') AS t(x text)",
        "SELECT cursor_to_xml('c', 1, true, false, '')",
    ],
    "admin and other sessions": [
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()",
        "SELECT pg_cancel_backend(pid) FROM pg_stat_activity",
        "SELECT pg_reload_conf()",
        "SELECT set_config('default_transaction_read_only', 'off', false)",
        "SELECT current_setting('data_directory')",
        "SELECT pg_sleep(30)",
        "SELECT pg_notify('orgkb', 'x')",
        "SELECT txid_current()",
    ],
    "advisory locks": [
        "SELECT pg_advisory_lock(4242)",
        "SELECT pg_try_advisory_lock(4242)",
        "SELECT pg_advisory_lock_shared(1, 2)",
        "SELECT pg_advisory_xact_lock(4242)",
        "SELECT 1 WHERE pg_try_advisory_lock(4242)",
    ],
    "server files and large objects": [
        "SELECT pg_read_file('/etc/passwd')",
        "SELECT pg_read_binary_file('/etc/hostname')",
        "SELECT * FROM pg_ls_dir('.')",
        "SELECT pg_stat_file('postgresql.conf')",
        "SELECT lo_import('/etc/passwd')",
        f"SELECT lo_export(lo_from_bytea(0, 'x'), '{PWNED}')",
        f"COPY (SELECT 1) TO '{PWNED}'",
        f"COPY customers FROM PROGRAM 'touch {PWNED}'",
    ],
    "writes, writable CTEs and locking clauses": [
        "WITH gone AS (DELETE FROM customers RETURNING *) SELECT count(*) FROM gone",
        "WITH moved AS (UPDATE ar_documents SET amount_eur = 0 RETURNING *) SELECT * FROM moved",
        "WITH added AS (INSERT INTO audit_log (note) VALUES ('x') RETURNING id) SELECT id FROM added",
        "SELECT * INTO stolen FROM customers",
        "SELECT * FROM customers FOR UPDATE",
        "SELECT * FROM customers FOR NO KEY UPDATE SKIP LOCKED",
        "SELECT * FROM customers FOR KEY SHARE",
        "SELECT nextval('invoice_numbers')",
        "SELECT setval('invoice_numbers', 1000)",
        "DROP TABLE customers",
        "SELECT 1; DROP TABLE customers",
    ],
    "user-defined functions and types": [
        "SELECT log_visit()",
        "SELECT * FROM log_visit()",
        "SELECT public.log_visit()",
        'SELECT "log_visit"()',
        "SELECT slow_report()",
        "SELECT 'customers'::regclass",
        "SELECT 1::orgkb_money",
        "CALL log_visit()",
    ],
    "obfuscation": [
        "SELECT pg_catalog.pg_sleep(30)",
        'SELECT "pg_catalog"."pg_terminate_backend"(1)',
        "SELECT * FROM pg_catalog.pg_ls_dir('.')",
        'SELECT "pg_advisory_lock"(4242)',
        "SELECT PG_ADVISORY_LOCK(4242)",
        "SeLeCt Pg_TeRmInAtE_bAcKeNd(1)",
        "SELECT/**/pg_advisory_lock/**/(4242)",
        "SELECT pg_advisory_lock -- comment\n(4242)",
        'SELECT U&"\\0070g_sleep"(30)',
        "SELECT lower(pg_advisory_lock(4242)::text)",
        "SELECT coalesce(NULL, pg_try_advisory_lock(4242))",
        "SELECT * FROM customers ORDER BY pg_advisory_lock(customer_id)",
        "SELECT name FROM customers WHERE EXISTS (SELECT pg_advisory_lock(4242))",
        "SELECT * FROM (SELECT pg_advisory_lock(4242)) AS s",
        "WITH s AS (SELECT pg_advisory_lock(4242)) SELECT * FROM s",
        "VALUES ((SELECT pg_advisory_lock(4242)))",
        "SELECT count(*) OVER (PARTITION BY pg_advisory_lock(4242)) FROM customers",
        "SELECT * FROM customers c, LATERAL (SELECT pg_advisory_lock(c.customer_id)) l",
        "SELECT 1 UNION ALL SELECT pg_advisory_lock(4242)",
        "SELECT $1",
        "SELECT * FROM customers TABLESAMPLE SYSTEM (50)",
    ],
}
_CASES = [(kind, sql) for kind, payloads in ATTACK_CLASSES.items() for sql in payloads]


def _state(server: PostgresServer) -> dict[str, Any]:
    state = snapshot(server)
    state["advisory_locks"] = server.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
    state["audit"] = server.execute("SELECT count(*) FROM audit_log", "crm")
    return state


@pytest.mark.parametrize("role", ["reader", "super"])
def test_every_attack_class_is_refused_by_the_allow_list(crm: PostgresServer, passwords: None, role: str) -> None:  # noqa: F811
    crm.execute("DO $$ BEGIN CREATE DOMAIN orgkb_money AS numeric; EXCEPTION WHEN duplicate_object THEN NULL; END $$", "crm")
    before = _state(crm)
    tools = services(crm, role, statement_timeout=2, allow_write_capable_role=True)
    with crm.connect("crm") as bystander:
        for kind, sql in _CASES:
            with pytest.raises(Exception) as refused:
                tools.query("crm", sql)
            message = str(refused.value)
            assert "query refused" in message and "\n" not in message, (kind, sql, message)
            assert any(reason in message for reason in REASONS), (kind, sql, message)
        assert bystander.execute("SELECT 1").fetchone() == (1,)
    assert _state(crm) == before
    assert not PWNED.exists()


def test_refusals_name_what_is_not_listed(crm: PostgresServer, passwords: None) -> None:  # noqa: F811
    tools = services(crm, "reader")
    expected = {
        "SELECT * FROM ts_stat('SELECT 1')": "the function ts_stat() is not on the allow-list",
        "SELECT pg_try_advisory_lock(1)": "the function pg_try_advisory_lock() is not on the allow-list",
        'SELECT "log_visit"()': "the function log_visit() is not on the allow-list",
        "SELECT pg_catalog.pg_sleep(1)": "the schema-qualified function pg_catalog.pg_sleep() is not allowed",
        "SELECT public.lower(name) FROM customers": "the schema-qualified function public.lower() is not allowed",
        "SELECT 'customers'::regclass": "the type REGCLASS (an object identifier type) is not allowed",
        "SELECT * FROM customers FOR UPDATE": "a row lock (FOR UPDATE/SHARE) is not allowed",
        "WITH d AS (DELETE FROM customers RETURNING *) SELECT * FROM d": "DELETE is not allowed",
    }
    for sql, reason in expected.items():
        with pytest.raises(Exception, match=reason.replace("(", r"\(").replace(")", r"\)")):
            tools.query("crm", sql)


LEGITIMATE: list[tuple[str, list[list[Any]]]] = [
    (  # join + aggregate + HAVING + ORDER BY an alias
        "SELECT c.name, count(*) AS invoices, sum(d.amount_eur) AS total FROM customers c"
        " JOIN ar_documents d USING (customer_id) GROUP BY c.name HAVING sum(d.amount_eur) > 1000 ORDER BY total DESC",
        [["Frischmarkt Nord GmbH", 1, 4116], ["Mercado Atlântico", 1, 2989], ["Modehaus Lindner", 1, 1127.5]],
    ),
    (  # window functions
        "SELECT doc_no, rank() OVER (ORDER BY amount_eur DESC) AS r, sum(amount_eur) OVER (PARTITION BY status) AS by_status,"
        " lag(doc_no) OVER (ORDER BY doc_no) AS previous FROM ar_documents ORDER BY doc_no",
        [["INV-2025-001", 1, 7105, None], ["INV-2025-002", 2, 7105, "INV-2025-001"], ["INV-2025-003", 3, 1127.5, "INV-2025-002"]],
    ),
    (  # CTE + LEFT JOIN + COALESCE
        "WITH open_tickets AS (SELECT customer_id, count(*) AS n FROM support_tickets WHERE status <> 'solved' GROUP BY 1)"
        " SELECT c.name, COALESCE(o.n, 0) AS open FROM customers c LEFT JOIN open_tickets o USING (customer_id) ORDER BY c.customer_id",
        [["Frischmarkt Nord GmbH", 1], ["Mercado Atlântico", 1], ["Modehaus Lindner", 1]],
    ),
    (  # date math
        "SELECT doc_no, issued_on + 30 AS due, CAST(date_trunc('month', issued_on) AS date) AS month,"
        " extract(year FROM issued_on) AS year, DATE '2025-03-31' - issued_on AS days_open,"
        " to_char(issued_on, 'YYYY-MM') AS ym, issued_on + INTERVAL '1 month' < DATE '2025-03-01' AS early"
        " FROM ar_documents WHERE issued_on BETWEEN DATE '2025-02-01' AND DATE '2025-02-28'",
        [["INV-2025-003", "2025-03-30", "2025-02-01", 2025, 31, "2025-02", False]],
    ),
    (  # json building and access, json and arrays come back as JSON values
        "SELECT j ->> 'name' AS name, j -> 'tags' ->> 0 AS city, jsonb_array_length(j -> 'tags') AS n, j, j -> 'tags' AS tags"
        " FROM (SELECT jsonb_build_object('name', name, 'tags', jsonb_build_array(city, segment)) AS j FROM customers) AS s"
        " WHERE j @> '{\"tags\": [\"grocery\"]}' ORDER BY 1 LIMIT 1",
        [["Frischmarkt Nord GmbH", "Hamburg", 2, {"name": "Frischmarkt Nord GmbH", "tags": ["Hamburg", "grocery"]}, ["Hamburg", "grocery"]]],
    ),
    (  # LIKE / ILIKE / CASE / string functions
        "SELECT upper(left(name, 3)) AS code, length(name) AS len, CASE WHEN city ILIKE 'ham%' THEN 'north'"
        " WHEN city LIKE 'L%' THEN 'west' ELSE 'south' END AS region, split_part(name, ' ', 1) AS first_word,"
        " concat_ws('/', city, segment) AS place, replace(lower(name), ' ', '-') AS slug, strpos(name, 'a') AS a_at,"
        " initcap(segment) AS seg, trim(both ' ' FROM '  x  ') AS t, name || '!' AS shout FROM customers"
        " WHERE name NOT ILIKE '%lindner%' ORDER BY 1",
        [
            ["FRI", 21, "north", "Frischmarkt", "Hamburg/grocery", "frischmarkt-nord-gmbh", 8, "Grocery", "x", "Frischmarkt Nord GmbH!"],
            ["MER", 17, "west", "Mercado", "Lisbon/grocery", "mercado-atlântico", 5, "Grocery", "x", "Mercado Atlântico!"],
        ],
    ),
    (  # aggregates with FILTER, ordered-set, string_agg, array_agg, DISTINCT
        "SELECT count(*) FILTER (WHERE status = 'paid') AS paid, percentile_cont(0.5) WITHIN GROUP (ORDER BY amount_eur) AS median,"
        " string_agg(doc_no, ',' ORDER BY doc_no) AS docs, array_agg(customer_id ORDER BY customer_id) AS ids,"
        " count(DISTINCT status) AS statuses, round(avg(amount_eur), 2) AS mean, max(issued_on) AS last FROM ar_documents",
        [[2, 2989, "INV-2025-001,INV-2025-002,INV-2025-003", [1, 2, 3], 2, 2744.17, "2025-02-28"]],
    ),
    (  # recursive CTE, generate_series, UNION, VALUES, EXISTS, IN, subquery
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3)"
        " SELECT n, n * n AS sq FROM r WHERE n IN (SELECT g FROM generate_series(1, 5) AS g)"
        " AND EXISTS (SELECT 1 FROM customers) UNION ALL SELECT x, y FROM (VALUES (10, 100)) AS v(x, y) ORDER BY 1",
        [[1, 1], [2, 4], [3, 9], [10, 100]],
    ),
    (  # DISTINCT ON, NULLIF, GREATEST, regexp_replace, casts, math
        "SELECT DISTINCT ON (segment) segment, NULLIF(city, 'Munich') AS city, GREATEST(customer_id, 2) AS g,"
        " regexp_replace(name, '[aeiou]', '', 'g') AS consonants, CAST(customer_id AS text) AS id_text,"
        " customer_id::numeric / 4 AS quarter, abs(-customer_id) % 2 AS odd, power(customer_id, 2)::int AS p"
        " FROM customers ORDER BY segment, customer_id",
        [
            ["fashion", None, 3, "Mdhs Lndnr", "3", 0.75, 1, 9],
            ["grocery", "Hamburg", 2, "Frschmrkt Nrd GmbH", "1", 0.25, 1, 1],
        ],
    ),
    (  # full text search and a LATERAL join
        "SELECT t.ticket_id, to_tsvector('english', t.body) @@ plainto_tsquery('english', 'forecasts') AS about_forecasts, l.name"
        " FROM support_tickets t CROSS JOIN LATERAL (SELECT name FROM customers c WHERE c.customer_id = t.customer_id) AS l"
        " ORDER BY t.ticket_id LIMIT 1",
        [[1, True, "Frischmarkt Nord GmbH"]],
    ),
]


def test_legitimate_analytical_queries_work(crm: PostgresServer, passwords: None) -> None:  # noqa: F811
    tools = services(crm, "reader")
    for sql, rows in LEGITIMATE:
        result = tools.query("crm", sql)
        assert result.rows == rows, sql
        assert result.cells_cut == 0 and not result.truncated
    # Types survive the bounds: ints stay ints, JSON stays JSON, timestamps are ISO text.
    typed = tools.query("crm", "SELECT customer_id, customer_id > 1 AS big, updated_at FROM support_tickets ORDER BY 1 LIMIT 1").rows[0]
    assert isinstance(typed[0], int) and typed[1] is False and typed[2].startswith("2025-")
    # Duplicate column names come back as the query named them.
    both = tools.query("crm", "SELECT c.customer_id, d.customer_id FROM customers c JOIN ar_documents d USING (customer_id) ORDER BY 1 LIMIT 1")
    assert (both.columns, both.rows) == (["customer_id", "customer_id"], [[1, 1]])


def test_amplification_is_cut_in_the_database(crm: PostgresServer, passwords: None) -> None:  # noqa: F811
    tools = services(crm, "reader", max_cell_chars=100, statement_timeout=30)
    result = tools.query("crm", "SELECT g AS n, repeat('x', 5000000) AS big, repeat('é', 300) AS small FROM generate_series(1, 20) AS g")
    assert result.row_count == 20 and result.cells_cut == 40
    assert result.rows[0] == [1, "x" * 100 + "…", "é" * 100 + "…"]
    arrays = tools.query("crm", "SELECT array_fill(7, ARRAY[100000]) AS a, '\\x0102'::bytea AS b, to_jsonb(repeat('y', 500)) AS j")
    assert arrays.rows[0][0].startswith("[7,7") and arrays.rows[0][0].endswith("…")
    assert arrays.rows[0][1] == "base64:AQI=" and arrays.rows[0][2].startswith('"yyy') and arrays.cells_cut == 2
    budget = services(crm, "reader", max_cell_chars=1000, max_result_chars=5000, max_rows=500)
    capped = budget.query("crm", "SELECT repeat('z', 2000) FROM generate_series(1, 400)", limit=400)
    assert capped.size_capped and capped.truncated and capped.row_count == 5


_MEASURE = """
import json, resource, sys
from orgkb.server.config import OrgkbConfig
from orgkb.server.app.databases import SqlService
tools = SqlService(OrgkbConfig.model_validate({"sources": [json.loads(sys.argv[1])]}))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = tools.query("crm", sys.argv[2])
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"rows": result.row_count, "cut": result.cells_cut, "growth_kb": after - before}))
"""


def test_amplification_does_not_grow_orgkb(crm: PostgresServer, passwords: None) -> None:  # noqa: F811
    # The issue's own query: 20 values of 50 MB each took the server to 2.1 GB before cutting.
    config = json.dumps({**source(crm, "reader"), "statement_timeout": 60})
    sql = "SELECT repeat('x', 50000000) FROM generate_series(1, 20)"
    process = subprocess.run(
        [sys.executable, "-c", _MEASURE, config, sql], capture_output=True, text=True, timeout=120,
        env={"CRM_READER_PW": "Reader-Secret-9f3a", "PATH": "/usr/bin:/bin"},
    )
    assert process.returncode == 0, process.stderr[-2000:]
    measured = json.loads(process.stdout)
    assert (measured["rows"], measured["cut"]) == (20, 20)
    assert measured["growth_kb"] < 50_000, measured  # one value alone is 50 MB
