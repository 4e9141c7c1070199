"""Vector search latency with and without a per-document permission filter.

Usage: python scripts/bench_acl.py [--chunks 10000] [--groups 50] [--queries 200]
Builds a throwaway embedded Chroma collection of random 384-d vectors, each chunk readable by
one of ``--groups`` groups (the `acl` array metadata the indexer writes), then times queries
unfiltered and filtered for a caller in 5 groups (the `$or` of `$contains` that
`SearchFilters.to_chroma` builds). Prints p50/p95 in milliseconds.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from orgkb.server.config import StoreConfig  # noqa: E402
from orgkb.server.store.filters import SearchFilters, vector_metadata  # noqa: E402
from orgkb.server.store.vectors import ChromaStore  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=50)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--candidates", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as folder:
        store = ChromaStore(StoreConfig(), Path(folder))
        store.open("bench", 384)
        ids = [f"c{i}" for i in range(args.chunks)]
        vectors = [[rng.gauss(0, 1) for _ in range(384)] for _ in ids]
        metadatas = [
            vector_metadata(f"d{i // 4}", "share", "md", None, {}, frozenset({f"group:g{rng.randrange(args.groups)}", "user:owner"}))
            for i in range(args.chunks)
        ]
        started = time.perf_counter()
        store.upsert(ids, vectors, metadatas)
        print(f"indexed {args.chunks} chunks with {args.groups} groups in {time.perf_counter() - started:.1f} s")
        caller = frozenset({"*", "user:someone", *(f"group:g{g}" for g in range(5))})
        cases = {"unfiltered": None, "filtered (5 of 50 groups)": SearchFilters(principals=caller).to_chroma(None)}
        for label, where in cases.items():
            times = []
            for _ in range(args.queries):
                query = [rng.gauss(0, 1) for _ in range(384)]
                began = time.perf_counter()
                store.query(query, args.candidates, where)
                times.append((time.perf_counter() - began) * 1000)
            times.sort()
            p95 = times[int(len(times) * 0.95) - 1]
            print(f"{label:28s} p50 {statistics.median(times):7.2f} ms   p95 {p95:7.2f} ms   ({args.queries} queries, top {args.candidates})")


if __name__ == "__main__":
    main()
