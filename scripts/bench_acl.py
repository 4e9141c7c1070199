"""Search latency with and without a per-document permission filter.

Usage: python scripts/bench_acl.py [--chunks 10000] [--groups 50] [--queries 200]

Part 1, the vector index alone: a throwaway embedded Chroma collection of random 384-d vectors,
each chunk readable by one of ``--groups`` groups (the `acl` array metadata the indexer writes),
queried unfiltered and filtered for a caller in 5 groups (the filter `SearchFilters.to_chroma`
builds, deny clauses included).

Part 2, the whole search (`Searcher.search`, keyword and hybrid): the same number of chunks
indexed through the real pipeline (catalog, FTS5, Chroma) from generated documents, with a
hashing embedder (latency does not depend on what the vectors mean), each document readable by
one group; permissions recorded as a sync records them (`refresh_permissions`). The keyword
side filters in SQL on the catalog's `document_access` rows.

Prints p50/p95 in milliseconds. Asserts nothing.
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

from orgkb.connectors.permissions import Permissions  # noqa: E402
from orgkb.server.config import StoreConfig, load_config  # noqa: E402
from orgkb.server.embedding.embedder import HashingEmbedder  # noqa: E402
from orgkb.server.index.indexer import Indexer  # noqa: E402
from orgkb.server.index.knowledge import KnowledgeIndex  # noqa: E402
from orgkb.server.index.permissions import refresh_permissions  # noqa: E402
from orgkb.server.search.searcher import Searcher  # noqa: E402
from orgkb.server.store.filters import SearchFilters, vector_metadata  # noqa: E402
from orgkb.server.store.vectors import ChromaStore  # noqa: E402

WORDS = [f"{a}{b}" for a in ("pol", "bud", "rev", "aud", "pay", "sal", "tra", "vpn", "hir", "lea") for b in ("ic", "get", "iew", "it", "roll", "ary", "vel", "net", "ing", "ve")]


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
        whole_search(Path(folder) / "pipeline", args, rng, caller)


def whole_search(root: Path, args: argparse.Namespace, rng: random.Random, caller: frozenset[str]) -> None:
    """Part 2: `Searcher.search` over a real index, unfiltered and filtered, keyword and hybrid."""
    docs = root / "docs"
    docs.mkdir(parents=True)
    per_document = 4
    for number in range(args.chunks // per_document):
        sections = [f"## Part {s}\n\n" + " ".join(rng.choice(WORDS) for _ in range(90)) for s in range(per_document)]
        (docs / f"doc{number:05d}.md").write_text(f"# Document {number}\n\n" + "\n\n".join(sections) + "\n")
    config = root / "orgkb.toml"
    config.write_text(f'data_dir = "{root / "data"}"\n\n[[sources]]\nname = "share"\ntype = "files"\npaths = ["{docs}"]\n')
    index = KnowledgeIndex(load_config(config), embedder=HashingEmbedder(dimension=384, max_tokens=128))
    started = time.perf_counter()
    summary = Indexer(index).run()
    for document in index.catalog.list_documents(limit=args.chunks):
        readers = Permissions.of(groups=[f"g{rng.randrange(args.groups)}"], rule="bench")
        refresh_permissions(index, document.doc_id, readers)
    chunks = summary.total("chunks_embedded")
    print(f"\nwhole search: indexed {chunks} chunks of {summary.total('added')} documents, one group each, in {time.perf_counter() - started:.1f} s")
    searcher = Searcher(index)
    for mode in ("keyword", "hybrid"):
        for label, filters in (("unfiltered", None), ("filtered (5 of 50 groups)", SearchFilters(principals=caller))):
            times = []
            for _ in range(args.queries // 2):
                query = " ".join(rng.choice(WORDS) for _ in range(3))
                began = time.perf_counter()
                searcher.search(query, limit=10, mode=mode, filters=filters)  # type: ignore[arg-type]
                times.append((time.perf_counter() - began) * 1000)
            times.sort()
            p95 = times[int(len(times) * 0.95) - 1]
            print(f"{mode:8s} {label:28s} p50 {statistics.median(times):7.2f} ms   p95 {p95:7.2f} ms   ({len(times)} queries, limit 10)")
    index.close()


if __name__ == "__main__":
    main()
