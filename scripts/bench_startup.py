"""Benchmark `orgkb serve` start-up with a large index: prints figures, asserts nothing.

Measures, with an index of ``--chunks`` chunks (default 50,000) present:
1. `initialize` latency (process spawn to the initialize result, as a client waits for it) of
   `orgkb serve` (default flags: warm-up and live sync on; and with both off) against a bare
   SDK server with one tool, started the same way on the same machine;
2. time to the first search answer after start, and whether the start-up catch-up sync was
   still running when it came (it must not wait for it), and how long the catch-up took;
3. search latency while live sync re-embeds changed files with the real model, against idle.

About the index: embedding 50,000 chunks with the real model takes 30+ minutes on a 2-core
machine, so the corpus (SciFact abstracts when /work/shared has them, else generated text;
ten one-chunk sections per file) is indexed through the normal pipeline with a hashing
embedder that produces 384-dimensional vectors under the real model's id. Start-up, catalog
and Chroma loading, HNSW query cost and keyword search do not depend on the vector values,
so those figures are what a real index gives; which chunks a semantic search returns is
meaningless here (the query is embedded by the real model, the stored vectors are not).
Files changed in part 3 are embedded by the real model, as in production.

Usage: python scripts/bench_startup.py [--workdir DIR] [--chunks N] [--runs N] [--rebuild]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from mcp import ClientSession  # noqa: E402
from mcp.client.stdio import StdioServerParameters, stdio_client  # noqa: E402

from orgkb.server.embedding.embedder import HashingEmbedder  # noqa: E402
from orgkb.server.embedding.models import DEFAULT_MODEL_NAME  # noqa: E402

SECTIONS_PER_FILE = 10
SCIFACT = PROJECT_ROOT.parent / "shared" / "data" / "scifact" / "corpus.jsonl"
BARE_SERVER = """
from mcp.server.mcpserver import MCPServer
server = MCPServer("bare")

@server.tool()
def echo(text: str) -> str:
    return text

server.run("stdio")
"""
QUERIES = [
    "how does diffusion tensor imaging measure white matter development",
    "vitamin D supplementation and fracture risk",
    "antibiotic resistance genes in hospital bacteria",
    "protein folding chaperones heat shock",
    "effect of exercise on insulin sensitivity",
]


class RealModelIdHashingEmbedder(HashingEmbedder):
    """Hashing vectors stored under the real model's id and size, so the real model can serve them."""

    def __init__(self) -> None:
        super().__init__(dimension=384, max_tokens=254)

    @property
    def model_id(self) -> str:
        return DEFAULT_MODEL_NAME


def paragraphs() -> list[str]:
    """Short paragraphs of real prose (SciFact abstracts) or, without them, generated text."""
    if SCIFACT.exists():
        texts = []
        for line in SCIFACT.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            sentences = record["text"].split(". ")
            texts.extend(". ".join(sentences[i : i + 2]).strip() for i in range(0, min(len(sentences), 6), 2))
        return [t for t in texts if len(t.split()) >= 8]
    words = "policy approval budget server network access training leave travel contract invoice audit".split()
    rng = random.Random(7)
    return [" ".join(rng.choice(words) for _ in range(40)) + "." for _ in range(20_000)]


def build(workdir: Path, chunks: int, rebuild: bool) -> Path:
    """Write the corpus and its config, and index it (once; reused unless ``rebuild``)."""
    from orgkb.server.config import load_config
    from orgkb.server.index.indexer import Indexer
    from orgkb.server.index.knowledge import KnowledgeIndex

    config_path = workdir / "orgkb.toml"
    if config_path.exists() and not rebuild:
        return config_path
    docs = workdir / "docs"
    texts = paragraphs()
    files = chunks // SECTIONS_PER_FILE
    for number in range(files):
        folder = docs / f"area{number % 50:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        sections = [f"## Part {s + 1}\n\n{texts[(number * SECTIONS_PER_FILE + s) % len(texts)]}" for s in range(SECTIONS_PER_FILE)]
        (folder / f"doc{number:05d}.md").write_text(f"# Report {number}\n\n" + "\n\n".join(sections) + "\n", encoding="utf-8")
    config_path.write_text(
        f'data_dir = "{workdir / "data"}"\n\n[server.live]\ndebounce_seconds = 0.5\n\n'
        f'[[sources]]\nname = "reports"\ntype = "files"\npaths = ["{docs}"]\n',
        encoding="utf-8",
    )
    started = time.perf_counter()
    index = KnowledgeIndex(load_config(config_path), embedder=RealModelIdHashingEmbedder())
    summary = Indexer(index).run()
    print(f"built: {summary.total('added')} files, {summary.total('chunks_embedded')} chunks in {time.perf_counter() - started:.0f}s")
    return config_path


def env() -> dict[str, str]:
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), environment.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return environment


@asynccontextmanager
async def connect(args: list[str]) -> AsyncIterator[tuple[ClientSession, float, float]]:
    """Spawn a stdio server; yield the session, the spawn time and the initialize latency."""
    params = StdioServerParameters(command=sys.executable, args=args, env=env(), cwd=str(PROJECT_ROOT))
    spawned = time.perf_counter()
    with open(os.devnull, "w") as quiet:
        async with stdio_client(params, errlog=quiet) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            yield session, spawned, time.perf_counter() - spawned


async def initialize_latencies(commands: list[list[str]], runs: int) -> list[list[float]]:
    """Initialize latency of each command, run in turn (interleaved, so machine load hits all alike)."""
    times: list[list[float]] = [[] for _ in commands]
    for _ in range(runs):
        for number, args in enumerate(commands):
            async with connect(args) as (_, _, latency):
                times[number].append(latency)
    return times


def touch(docs: Path, files: int) -> None:
    """Change the first section of ``files`` files (each then has 10 chunks to embed again)."""
    for path in sorted(docs.rglob("*.md"))[:files]:
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("## Part 1\n\n", f"## Part 1\n\nRevised {time.time()}. ", 1), encoding="utf-8")


async def status(session: ClientSession) -> dict[str, Any]:
    return json.loads((await session.read_resource("orgkb://status")).contents[0].text)


async def search(session: ClientSession, query: str, mode: str = "hybrid") -> float:
    started = time.perf_counter()
    result = await session.call_tool("search", {"query": query, "mode": mode, "limit": 8})
    assert not result.is_error, result.content
    return time.perf_counter() - started


async def first_search(serve: list[str]) -> dict[str, Any]:
    async with connect(serve) as (session, spawned, init):
        keyword = await search(session, QUERIES[0], "keyword")
        after_keyword = time.perf_counter() - spawned
        first = await search(session, QUERIES[1])
        answered = time.perf_counter() - spawned
        state = (await status(session))["sources"][0]["sync"]
        while True:
            sync = (await status(session))["sources"][0]["sync"]
            if sync["state"] == "idle" and sync["last_finished"]:
                break
            await anyio.sleep(0.2)
        caught_up = time.perf_counter() - spawned
        warm = [await search(session, q) for q in QUERIES]
    return {"init": init, "keyword_first": keyword, "keyword_at": after_keyword, "first": first, "answered_at": answered,
            "sync_state_then": state["state"], "caught_up_at": caught_up, "warm": warm}


async def search_while_syncing(serve: list[str], docs: Path, files: int) -> dict[str, Any]:
    async with connect(serve) as (session, _, _):
        while (await status(session))["sources"][0]["sync"]["state"] != "idle":
            await anyio.sleep(0.2)
        await search(session, QUERIES[0])
        idle = [await search(session, q) for q in QUERIES * 4]
        touch(docs, files)
        started = time.perf_counter()
        while (await status(session))["sources"][0]["sync"]["state"] != "syncing":
            await anyio.sleep(0.05)
        during: list[float] = []
        while (await status(session))["sources"][0]["sync"]["state"] == "syncing":
            during.append(await search(session, QUERIES[len(during) % len(QUERIES)]))
        result = (await status(session))["sources"][0]["sync"]["last_result"]
    return {"idle": idle, "during": during, "sync_seconds": time.perf_counter() - started, "result": result}


def ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (f"median {statistics.median(values) * 1000:6.0f} ms  min {ordered[0] * 1000:6.0f}  p95 {p95 * 1000:6.0f}"
            f"  max {ordered[-1] * 1000:6.0f}  (n={len(values)})")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "orgkb-bench")
    parser.add_argument("--chunks", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--changed-files", type=int, default=60, help="files rewritten for the during-sync figures")
    parser.add_argument("--rebuild", action="store_true")
    options = parser.parse_args()
    options.workdir.mkdir(parents=True, exist_ok=True)
    config = build(options.workdir, options.chunks, options.rebuild)
    bare = options.workdir / "bare_server.py"
    bare.write_text(BARE_SERVER, encoding="utf-8")
    serve = ["-m", "orgkb.server", "--config", str(config), "serve"]
    print(f"index: {options.workdir / 'data'} ({options.chunks:,} chunks; see the docstring about its vectors)")

    print("\n1. initialize latency, process spawn to initialize result (runs interleaved)")
    bare_times, default_times, plain_times = await initialize_latencies(
        [[str(bare)], serve, [*serve, "--no-warm-up", "--no-sync"]], options.runs
    )
    print(f"   bare SDK server, one tool            {ms(bare_times)}")
    print(f"   orgkb serve (warm-up, live sync)     {ms(default_times)}")
    print(f"   orgkb serve --no-warm-up --no-sync   {ms(plain_times)}")
    print(f"   difference of medians, orgkb serve - bare: {(statistics.median(default_times) - statistics.median(bare_times)) * 1000:+.0f} ms")

    print(f"\n2. first search after start; {options.changed_files} files changed while the server was down,")
    print("   so the start-up catch-up sync has real work (re-embedding them with the real model)")
    touch(options.workdir / "docs", options.changed_files)
    first = await first_search(serve)
    print(f"   initialize {first['init']:.2f}s; first keyword search {first['keyword_first'] * 1000:.0f} ms, "
          f"answered {first['keyword_at']:.2f}s after spawn")
    print(f"   first hybrid search {first['first']:.2f}s (waits for the model to load), answered {first['answered_at']:.2f}s "
          f"after spawn; the catch-up sync was then: {first['sync_state_then']}")
    print(f"   catch-up sync done {first['caught_up_at']:.2f}s after spawn")
    print(f"   warm hybrid searches                 {ms(first['warm'])}")

    print(f"\n3. search while live sync re-embeds {options.changed_files} changed files with the real model")
    during = await search_while_syncing(serve, options.workdir / "docs", options.changed_files)
    print(f"   idle                             {ms(during['idle'])}")
    print(f"   during the sync                  {ms(during['during']) if during['during'] else 'no search finished during the sync'}")
    print(f"   sync: {during['result']} in {during['sync_seconds']:.1f}s after the edits")


if __name__ == "__main__":
    anyio.run(main)
