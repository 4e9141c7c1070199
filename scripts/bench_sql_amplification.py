"""Peak memory and wall time of amplification queries through `sql_query`, bounded vs unbounded.

    PYTHONPATH=. .venv/bin/python scripts/bench_sql_amplification.py [--no-postgres]

Each query runs in a fresh child process, twice:

- bounded: `SqlService.query`, as the server runs it (values cut inside the database);
- unbounded: what orgkb did before issue 14 — the checked statement as it is, rows fetched,
  values cut afterwards in Python (the same read-only transaction and timeout).

PostgreSQL runs in a throwaway PostgreSQL 15 server (needs root, as the tests do); SQLite on a
temporary file. Prints one table (peak RSS growth of the child, wall time, result); nothing is
asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_PASSWORD = "Bench-Reader-5150"
TWENTY = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 20) "
BIG = "replace(replace(replace(printf('%.900c', 'x'), 'x', 'xxxxxxxxxx'), 'x', 'xxxxxxxxxx'), 'x', 'xxxxxxxxxx')"
QUERIES = {
    "postgresql": [
        "SELECT repeat('x', 50000000) FROM generate_series(1, 20)",
        "SELECT repeat('x', 5000000) AS a, repeat('y', 5000000) AS b FROM generate_series(1, 100)",
        "SELECT array_fill(7, ARRAY[2000000]) FROM generate_series(1, 10)",
    ],
    "sqlite": [
        TWENTY + f"SELECT {BIG}, upper({BIG}), {BIG} || 'z' FROM r",
        "SELECT length(printf('%.*c', 2000000000, 'x'))",
        "SELECT randomblob(300000000)",
    ],
}

_CHILD = """
import json, resource, sys, time
from orgkb.server.config import OrgkbConfig
from orgkb.server.app.databases import SqlService
mode, source, sql = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
tools = SqlService(OrgkbConfig.model_validate({"sources": [source]}))
tools.query(source["name"], "SELECT 1")  # connect and import before measuring
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
try:
    if mode == "bounded":
        result = tools.query(source["name"], sql)
        outcome = f"{result.row_count} rows, {result.cells_cut} cut"
    else:
        # The old deny-list passed each of these queries, so it runs as written.
        from orgkb.connectors.sql.bounds import CellLimiter, driver_text
        database = tools.database(source["name"])
        with database.read_only(timeout=source["statement_timeout"]) as connection:
            result = connection.exec_driver_sql(driver_text(sql, connection.dialect.paramstyle))
            rows = result.fetchmany(501)
            cells = CellLimiter(2000)
            values = [[cells.value(v) for v in row] for row in rows]
            outcome = f"{len(values)} rows, {cells.cut} cut"
except Exception as exc:
    outcome = "error: " + str(exc)[:70]
elapsed = time.perf_counter() - started
growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"growth_mb": growth / 1024, "seconds": elapsed, "outcome": outcome}))
"""


def measure(mode: str, source: dict[str, Any], sql: str) -> dict[str, Any]:
    """One query in a fresh child: peak RSS growth (MB), wall seconds and what came back."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_PG_PW": PG_PASSWORD}
    process = subprocess.run(
        [sys.executable, "-c", _CHILD, mode, json.dumps(source), sql], capture_output=True, text=True, env=env, timeout=600
    )
    if process.returncode != 0:
        return {"growth_mb": float("nan"), "seconds": float("nan"), "outcome": process.stderr.strip().splitlines()[-1][:70]}
    return json.loads(process.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-postgres", action="store_true", help="measure SQLite only")
    args = parser.parse_args()
    sources: dict[str, dict[str, Any]] = {}
    work = Path(tempfile.mkdtemp(prefix="orgkb-bench-amp-"))
    db = work / "bench.db"
    import sqlite3

    sqlite3.connect(db).execute("CREATE TABLE t (a int)").connection.commit()
    sources["sqlite"] = {"name": "lite", "type": "sql", "url": f"sqlite:///{db}", "statement_timeout": 60}
    server = None
    if not args.no_postgres:
        from tests.postgres_server import PostgresServer

        server = PostgresServer.start()
        server.execute(f"CREATE ROLE bench_reader LOGIN PASSWORD '{PG_PASSWORD}'")
        sources["postgresql"] = {
            "name": "pg", "type": "sql", "url": server.url("bench_reader", "postgres"),
            "password_env": "BENCH_PG_PW", "statement_timeout": 60,
        }
    try:
        print(f"{'database':<11} {'mode':<10} {'peak RSS +MB':>12} {'seconds':>8}  result / query")
        for dialect, source in sources.items():
            for sql in QUERIES[dialect]:
                for mode in ("unbounded", "bounded"):
                    m = measure(mode, source, sql)
                    print(f"{dialect:<11} {mode:<10} {m['growth_mb']:>12.1f} {m['seconds']:>8.2f}  {m['outcome']}")
                print(f"{'':<11} {'':<10} {'':>12} {'':>8}  ^ {sql[:90]}")
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
