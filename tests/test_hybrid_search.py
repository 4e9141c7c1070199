"""Hybrid search through the real stack: real model, embedded Chroma, FTS5, and the MCP tool."""

from __future__ import annotations

import json
from collections.abc import Iterator

import anyio
import pytest
from mcp import Client

from orgkb.server.config import load_config
from orgkb.server.embedding.embedder import Embedder
from orgkb.server.index.indexer import Indexer
from orgkb.server.index.knowledge import KnowledgeIndex
from orgkb.server.mcp.app import build_server
from orgkb.server.search.searcher import Searcher
from orgkb.server.app.service import OrgkbService
from tests.conftest import write_config
from tests.mcp_helpers import hit_doc_id

POLICIES = [
    {"_id": "wfh", "title": "Working from home", "text": "Employees may work from their own home two days per week "
     "when their manager agrees.", "team": "people", "updated": "2024-04-02"},
    {"_id": "badge", "title": "Badge reader faults", "text": "Error ERR-4711 means the badge reader lost its network "
     "link; call facilities.", "team": "facilities", "updated": "2022-11-20"},
    {"_id": "badges", "title": "Visitor badges", "text": "Visitors collect a paper badge at reception and return it "
     "when they leave.", "team": "facilities", "updated": "2023-08-14"},
    {"_id": "canteen", "title": "Canteen", "text": "The canteen serves lunch from noon until two.", "team": "people",
     "updated": "2021-01-05"},
]
# Two paragraphs of one section: with 32-token chunks they become two adjacent chunks (lines 3 and 5).
HANDBOOK = (
    "# Fire safety\n\n"
    "Fire doors on every floor must stay closed; wedging them open lets smoke spread through the stairwells.\n\n"
    "During an alarm, leave by the nearest stairwell, never the lifts, and gather at the car park assembly point.\n"
)


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory, real_embedder: Embedder) -> Iterator[KnowledgeIndex]:
    root = tmp_path_factory.mktemp("hybrid")
    policies = root / "policies.jsonl"
    policies.write_text("\n".join(json.dumps(p) for p in POLICIES) + "\n", encoding="utf-8")
    (root / "handbook").mkdir()
    (root / "handbook" / "fire.md").write_text(HANDBOOK, encoding="utf-8")
    config = write_config(
        root / "orgkb.toml",
        [
            {"name": "policies", "type": "jsonl", "paths": [str(policies)], "metadata_fields": ["team"],
             "modified_field": "updated"},
            {"name": "handbook", "type": "files", "paths": [str(root / "handbook")]},
        ],
        chunking={"max_tokens": 32},
    )
    knowledge = KnowledgeIndex(load_config(config), embedder=real_embedder)
    assert Indexer(knowledge).run().total("failed") == 0
    yield knowledge
    knowledge.close()


def test_hybrid_finds_a_paraphrase_that_keyword_search_cannot(index: KnowledgeIndex) -> None:
    searcher = Searcher(index)
    assert searcher.search("telecommuting rules", mode="keyword").hits == []
    assert searcher.search("telecommuting rules", mode="hybrid").hits[0].doc_id == "policies:wfh"


def test_hybrid_finds_an_exact_error_code(index: KnowledgeIndex) -> None:
    hits = Searcher(index).search("ERR-4711", mode="hybrid").hits
    assert hits[0].doc_id == "policies:badge"
    assert Searcher(index).search("ERR-4711", mode="keyword").hits[0].doc_id == "policies:badge"


def test_adjacent_chunks_come_back_as_one_passage_with_their_line_range(index: KnowledgeIndex) -> None:
    assert len(index.catalog.document_chunks("handbook:fire.md")) == 2
    top = Searcher(index).search("fire doors and stairwells during an alarm").hits[0]
    assert top.doc_id == "handbook:fire.md" and len(top.chunk_ids) == 2
    assert "Fire doors" in top.text and "assembly point" in top.text
    assert (top.location.line_start, top.location.line_end) == (3, 5)
    single = Searcher(index).search("fire doors and stairwells during an alarm", max_chunks_per_document=1).hits[0]
    assert len(single.chunk_ids) == 1


async def _tool_calls(service: OrgkbService) -> None:
    async with Client(build_server(service, warm_up=False)) as client:
        recent = await client.call_tool(
            "search", {"query": "badge", "modified_after": "2023-01-01T00:00:00Z", "sources": ["policies"]}
        )
        assert not recent.is_error
        content = recent.structured_content
        assert {hit_doc_id(h) for h in content["hits"]} == {"policies:badges", "policies:wfh"}
        assert "notices" not in content
        team = await client.call_tool("search", {"query": "badge", "metadata": {"team": "facilities"}, "mode": "keyword"})
        assert {hit_doc_id(h) for h in team.structured_content["hits"]} == {"policies:badge", "policies:badges"}
        older = await client.call_tool(
            "search", {"query": "lunch", "modified_before": "2022-01-01T00:00:00Z", "mode": "semantic"}
        )
        assert [hit_doc_id(h) for h in older.structured_content["hits"]] == ["policies:canteen"]


def test_mcp_search_tool_applies_date_and_metadata_filters(index: KnowledgeIndex) -> None:
    anyio.run(_tool_calls, OrgkbService(index))


def test_a_query_leaves_torch_threads_as_it_found_them(index: KnowledgeIndex) -> None:
    import torch

    before = torch.get_num_threads()
    Searcher(index).search("fire alarm", mode="semantic")
    assert torch.get_num_threads() == before


def test_a_query_never_changes_torch_threads_while_a_batch_is_embedded(
    index: KnowledgeIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from orgkb.server.embedding import embedder as embedding

    index.embedder.embed_query("load the model first")
    calls: list[int] = []
    real = torch.set_num_threads
    monkeypatch.setattr(torch, "set_num_threads", lambda n: (calls.append(n), real(n)))
    index.embedder.embed_query("fire alarm")
    assert calls[0] == 1 and len(calls) == 2  # lowered for the query, then restored
    calls.clear()
    with embedding._QUERY_THREADS.batch():  # live sync embedding in another thread, as far as queries can tell
        index.embedder.embed_query("fire alarm")
    assert calls == []
