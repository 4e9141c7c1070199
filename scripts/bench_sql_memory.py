"""Peak memory of indexing a database table, at two table sizes: does it grow with the table?

    PYTHONPATH=. .venv/bin/python scripts/bench_sql_memory.py [--rows 20000 200000] [--postgres]

For each size a fresh child process builds a table of N support-ticket rows (SQLite, or a
throwaway PostgreSQL 15 server with --postgres), then measures, each in its own child:

- connector: listing and loading every row as a document, as the indexer does (tracemalloc
  peak of Python allocations, and peak RSS);
- index: a whole `orgkb index` run with the `HashingEmbedder` into embedded Chroma (peak RSS,
  and with --trace-index the tracemalloc peak; embedding cost is not what is measured here);
- resync: a second full sync in which no row changed (tracemalloc peak): the connector's pages
  plus the indexer's own bookkeeping (stored versions, keys seen), nothing embedded.

Prints one table; nothing is asserted. Takes a few minutes at 200,000 rows (Chroma writes).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

WORDS = "forecast store import order stock price markdown login report delivery invoice shelf".split()


def rows(count: int) -> Any:
    """Deterministic ticket rows of about 300 characters each."""
    for i in range(1, count + 1):
        words = " ".join(WORDS[(i * k) % len(WORDS)] for k in range(1, 40))
        yield (i, f"Ticket {i}: {WORDS[i % len(WORDS)]} problem", f"Customer {i % 997} reports: {words}.", "open", f"2025-01-01 00:00:{i % 60:02d}")


def make_sqlite(path: Path, count: int) -> str:
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE tickets (id INTEGER PRIMARY KEY, subject TEXT, body TEXT, status TEXT, updated_at TEXT)")
    connection.executemany("INSERT INTO tickets VALUES (?,?,?,?,?)", rows(count))
    connection.commit()
    connection.close()
    return f"sqlite:///{path}"


def config_for(url: str, data_dir: Path, stamps: bool) -> Any:
    from orgkb.server.config import OrgkbConfig

    table: dict[str, Any] = {"table": "tickets", "id": "id", "title": "subject", "text": ["body", "status"]}
    if stamps:
        table["updated_at"] = "updated_at"
    source = {"name": "bench", "type": "sql", "url": url, "password_env": os.environ.get("BENCH_PW_ENV"), "tables": [table], "schema_documents": False}
    return OrgkbConfig.model_validate({"data_dir": str(data_dir), "sources": [source]})


class QuietHashingEmbedder:
    """The `HashingEmbedder` without its record of every embedded text (that would be O(rows))."""

    def __init__(self) -> None:
        from orgkb.server.embedding.embedder import HashingEmbedder

        self.inner = HashingEmbedder(dimension=32)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        vectors = self.inner.embed_documents(texts)
        self.inner.embedded_texts.clear()
        return vectors


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(mode: str, url: str, data_dir: Path, stamps: bool) -> dict[str, Any]:
    """One measurement in this (fresh) process."""
    from orgkb.connectors.base import DocumentRef
    from orgkb.connectors.registry import build_connector
    from orgkb.server.index.indexer import Indexer
    from orgkb.server.index.knowledge import KnowledgeIndex

    config = config_for(url, data_dir, stamps)
    started = time.perf_counter()
    if mode == "connector":
        connector = build_connector(config.sources[0])
        connector.list_documents  # noqa: B018 - import cost before measuring
        tracemalloc.start()
        count = 0
        for ref in connector.list_documents():
            if isinstance(ref, DocumentRef):
                connector.load(ref)
                count += 1
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return {"documents": count, "py_peak_mb": peak / 2**20, "rss_mb": peak_rss_mb(), "seconds": time.perf_counter() - started}
    if mode in ("index", "index-traced"):
        if mode == "index-traced":
            tracemalloc.start()
        summary = Indexer(KnowledgeIndex(config, embedder=QuietHashingEmbedder())).run()  # type: ignore[arg-type]
        peak = tracemalloc.get_traced_memory()[1] if tracemalloc.is_tracing() else float("nan")
        return {"documents": summary.total("added"), "error": summary.sources[0].error, "rss_mb": peak_rss_mb(),
                "py_peak_mb": peak / 2**20, "seconds": time.perf_counter() - started}
    # resync: a second full sync where nothing changed, so what remains is the bookkeeping
    index = KnowledgeIndex(config, embedder=QuietHashingEmbedder())  # type: ignore[arg-type]
    index.open()
    tracemalloc.start()
    summary = Indexer(index).run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"documents": summary.total("unchanged"), "py_peak_mb": peak / 2**20, "seconds": time.perf_counter() - started}


def run_child(mode: str, url: str, data_dir: Path, stamps: bool, env: dict[str, str]) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", mode, "--url", url, "--data-dir", str(data_dir)] + (["--stamps"] if stamps else [])
    process = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if process.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{process.stderr[-3000:]}")
    return json.loads(process.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--postgres", action="store_true", help="use a throwaway PostgreSQL 15 server instead of SQLite")
    parser.add_argument("--stamps", action="store_true", help="configure updated_at (stamp mode) instead of row hashes")
    parser.add_argument("--skip-index", action="store_true", help="only the connector measurement")
    parser.add_argument("--trace-index", action="store_true", help="also trace Python allocations of the index run (slower)")
    parser.add_argument("--child", choices=["connector", "index", "index-traced", "resync"])
    parser.add_argument("--url")
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.url, args.data_dir, args.stamps)))
        return

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = None
    if args.postgres:
        from tests.postgres_server import PostgresServer

        server = PostgresServer.start()
        server.execute("CREATE ROLE bench LOGIN PASSWORD 'Bench-Pw-1'")
        env.update({"BENCH_PW_ENV": "BENCH_PW", "BENCH_PW": "Bench-Pw-1"})
    print(f"{'rows':>8} {'mode':>6}  {'connector py peak':>17} {'connector RSS':>13} {'index RSS':>9} {'index s':>7} {'resync py peak':>14} {'resync s':>8}")
    try:
        for count in args.rows:
            with tempfile.TemporaryDirectory(prefix="orgkb-bench-") as folder:
                work = Path(folder)
                if server is not None:
                    database = f"bench{count}"
                    server.execute(f"CREATE DATABASE {database}")
                    server.execute(
                        "CREATE TABLE tickets (id int PRIMARY KEY, subject text, body text, status text, updated_at timestamp);"
                        f" INSERT INTO tickets SELECT i, 'Ticket ' || i || ': problem', repeat('forecast store import order ', 11),"
                        f" 'open', '2025-01-01'::timestamp + i * interval '1 second' FROM generate_series(1, {count}) i;"
                        " GRANT SELECT ON tickets TO bench",
                        database,
                    )
                    url = server.url("bench", database)
                else:
                    url = make_sqlite(work / "bench.db", count)
                connector = run_child("connector", url, work / "unused", args.stamps, env)
                index = {"rss_mb": float("nan"), "seconds": float("nan"), "py_peak_mb": float("nan")}
                resync = {"py_peak_mb": float("nan"), "seconds": float("nan")}
                if not args.skip_index:
                    index = run_child("index-traced" if args.trace_index else "index", url, work / "index", args.stamps, env)
                    resync = run_child("resync", url, work / "index", args.stamps, env)
                mode = "stamps" if args.stamps else "hashes"
                print(
                    f"{count:>8} {mode:>6}  {connector['py_peak_mb']:>14.1f} MB {connector['rss_mb']:>10.0f} MB"
                    f" {index['rss_mb']:>6.0f} MB {index['seconds']:>7.0f} {resync['py_peak_mb']:>11.1f} MB {resync['seconds']:>8.0f}"
                    + (f"  index py peak {index['py_peak_mb']:.1f} MB" if args.trace_index else ""),
                    flush=True,
                )
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
