"""`orgkb serve` over stdio with the real model: live updates, resources, prompts, completions, reindex."""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPError
from mcp_types import PaginatedRequestParams, PromptReference, ResourceTemplateReference

from orgkb.server.config import load_config
from orgkb.server.embedding.embedder import Embedder
from orgkb.server.index.indexer import Indexer
from orgkb.server.index.knowledge import KnowledgeIndex
from tests.conftest import PROJECT_ROOT, subprocess_env, write_config
from tests.mcp_helpers import Notifications, all_resources, hit_doc_id, read_status, wait_for_catch_up

DOCS = {
    "policies/expenses.md": "# Expense policy\n\n## Limits\n\nMeals are reimbursed up to 40 EUR per day.\n\n"
    "## Approval\n\nExpenses over the limit must be approved by your department head.\n",
    "policies/travel.md": "# Travel policy\n\nBook trains for trips under 600 km; flights need approval from finance.\n",
    "it/vpn.md": "# VPN setup\n\nInstall the WireGuard client, then import the profile from the IT portal.\n",
    "canteen.txt": "The canteen serves lunch from noon until two; vegetarian dishes every day.\n",
}
EXPENSES = "orgkb://documents/handbook/policies/expenses.md"


# The 2025-era `resources/subscribe` is what Claude Desktop and the Inspector use: tested on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:resources/subscribe is removed")

@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, real_embedder: Embedder) -> Path:
    """A handbook indexed with the real model; the config pages resources two at a time."""
    root = tmp_path_factory.mktemp("live")
    docs = root / "docs"
    for key, text in DOCS.items():
        (docs / key).parent.mkdir(parents=True, exist_ok=True)
        (docs / key).write_text(text, encoding="utf-8")
    config = write_config(
        root / "orgkb.toml",
        [{"name": "handbook", "type": "files", "paths": [str(docs)]}],
        server={"page_size": 2},
        **{"server.live": {"debounce_seconds": 0.3}},
    )
    index = KnowledgeIndex(load_config(config), embedder=real_embedder)
    assert Indexer(index).run().total("added") == len(DOCS)
    index.close()
    return config


@asynccontextmanager
async def serve(config: Path, *args: str, **client: Any) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "orgkb.server", "--config", str(config), "serve", *args],
        env=subprocess_env(), cwd=str(PROJECT_ROOT),
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write, **client) as session:
        await session.initialize()
        yield session


def test_subscribed_document_edits_additions_and_deletions_reach_the_client(workspace: Path) -> None:
    docs = workspace.parent / "docs"

    async def scenario() -> None:
        notes = Notifications()
        async with serve(workspace, message_handler=notes) as session:
            capabilities = session.initialize_result.capabilities.resources
            assert capabilities.subscribe is True and capabilities.list_changed is True
            status = await wait_for_catch_up(session)
            assert status["writer"].startswith("this server")
            assert status["sources"][0]["sync"]["watching"] == [str(docs)]

            await session.subscribe_resource(EXPENSES)
            await session.subscribe_resource("orgkb://status")
            mark = notes.mark()
            edited = time.monotonic()
            (docs / "policies" / "expenses.md").write_text(DOCS["policies/expenses.md"].replace("40 EUR", "55 EUR"))
            arrived = await notes.wait_for("notifications/resources/updated", EXPENSES, since=mark)
            print(f"resources/updated {arrived - edited:.2f}s after the edit")
            assert notes.found("notifications/resources/updated", "orgkb://documents/handbook/canteen.txt", mark) is None
            text = (await session.read_resource(EXPENSES)).contents[0].text
            assert "55 EUR" in text and "40 EUR" not in text
            await notes.wait_for("notifications/resources/updated", "orgkb://status", since=mark)
            assert (await read_status(session))["sources"][0]["sync"]["last_result"]["updated"] == 1

            mark = notes.mark()
            (docs / "parking.md").write_text("# Parking\n\nStaff park in garage B, level -2; badges open the gate.\n")
            await notes.wait_for("notifications/resources/list_changed", since=mark)
            hits = (await session.call_tool("search", {"query": "where can employees leave their car", "limit": 3})).structured_content["hits"]
            assert hit_doc_id(hits[0]) == "handbook:parking.md" and "garage B" in hits[0]["text"]
            listed = {r.uri for r in await all_resources(session)}
            assert "orgkb://documents/handbook/parking.md" in listed

            mark = notes.mark()
            (docs / "parking.md").unlink()
            await notes.wait_for("notifications/resources/list_changed", since=mark)
            for mode in ("semantic", "keyword", "hybrid"):
                found = await session.call_tool("search", {"query": "staff parking garage badges", "mode": mode})
                assert all(hit_doc_id(h) != "handbook:parking.md" for h in found.structured_content["hits"]), mode
            with pytest.raises(MCPError, match="no indexed document"):
                await session.read_resource("orgkb://documents/handbook/parking.md")
            assert "orgkb://documents/handbook/parking.md" not in {r.uri for r in await all_resources(session)}

    anyio.run(scenario)


def test_resources_prompts_completions_and_reindex(workspace: Path) -> None:
    async def scenario() -> None:
        logs: list[Any] = []

        async def on_log(params: Any) -> None:
            logs.append(params)

        async with serve(workspace, logging_callback=on_log) as session:
            tools = {t.name: t for t in (await session.list_tools()).tools}
            assert set(tools) == {"search", "fetch", "list_sources", "reindex"}
            for tool in tools.values():
                assert tool.title and tool.output_schema and tool.annotations is not None, tool.name
                assert tool.annotations.idempotent_hint is True and tool.annotations.destructive_hint is False
            assert tools["search"].annotations.read_only_hint is True and tools["search"].annotations.open_world_hint is False
            assert tools["reindex"].annotations.read_only_hint is False and tools["reindex"].annotations.open_world_hint is True

            # Pages of two, in id order, the status resource first; a foreign cursor is refused.
            first = await session.list_resources()
            assert [r.uri for r in first.resources] == [
                "orgkb://status", "orgkb://documents/handbook/canteen.txt", "orgkb://documents/handbook/it/vpn.md",
            ]
            assert first.next_cursor
            resources = await all_resources(session)
            documents = [r for r in resources if r.uri.startswith("orgkb://documents/")]
            assert len(documents) == len({r.uri for r in documents}) >= len(DOCS)
            expenses = next(r for r in documents if r.uri == EXPENSES)
            assert expenses.title == "Expense policy" and expenses.mime_type == "text/markdown"
            assert expenses.annotations.last_modified.startswith("20")
            with pytest.raises(MCPError, match="invalid cursor"):
                await session.list_resources(params=PaginatedRequestParams(cursor="bm9wZQ"))

            status = await read_status(session)
            handbook = status["sources"][0]
            assert handbook["name"] == "handbook" and handbook["documents"] >= len(DOCS) and handbook["chunks"] >= len(DOCS)
            assert status["embedding_model"] == "sentence-transformers/all-MiniLM-L6-v2"

            progress: list[tuple[float, float | None, str | None]] = []

            async def on_progress(value: float, total: float | None, message: str | None) -> None:
                progress.append((value, total, message))

            result = await session.call_tool("reindex", {"source": "handbook", "full": True}, progress_callback=on_progress)
            assert not result.is_error, result.content
            summary = result.structured_content["sources"][0]
            # A full reindex re-reads every document but embeds only changed content: none here.
            assert result.structured_content["ok"] and summary["unchanged"] == handbook["documents"]
            assert summary["chunks_embedded"] == 0 and summary["failed"] == 0
            assert len(progress) >= 2 and progress[-1][1] == progress[-1][0]
            assert all(b[0] > a[0] for a, b in zip(progress, progress[1:], strict=False)), progress
            assert any("handbook" in str(p.data) and "updated" in str(p.data) for p in logs), logs
            unknown = await session.call_tool("reindex", {"source": "wiki"})
            assert unknown.is_error and "unknown source" in unknown.content[0].text

            prompts = {p.name: p for p in (await session.list_prompts()).prompts}
            assert {"answer_with_citations", "summarise_document"} <= set(prompts)
            answer = await session.get_prompt("answer_with_citations", {"question": "Who approves expenses over the limit?"})
            assert "cite" in answer.messages[0].content.text.lower() and "Who approves" in answer.messages[0].content.text
            passages = [m.content.resource for m in answer.messages if m.content.type == "resource"]
            top = passages[0]
            assert top.uri.startswith("file://") and "expenses.md" in top.uri and "department head" in top.text
            assert f"<{top.uri}>" in top.text
            summary_prompt = await session.get_prompt("summarise_document", {"uri": EXPENSES})
            embedded = summary_prompt.messages[0].content.resource
            assert embedded.uri == EXPENSES and "department head" in embedded.text
            assert "expenses.md>" in summary_prompt.messages[1].content.text
            with pytest.raises(MCPError, match="no indexed document"):
                await session.get_prompt("summarise_document", {"uri": "orgkb://documents/handbook/nope.md"})

            template = ResourceTemplateReference(uri="orgkb://documents/{source}/{+key}")
            sources = await session.complete(template, {"name": "source", "value": "ha"})
            assert sources.completion.values == ["handbook"]
            keys = await session.complete(template, {"name": "key", "value": "policies/"}, context_arguments={"source": "handbook"})
            assert keys.completion.values == ["policies/expenses.md", "policies/travel.md"]
            summarise = PromptReference(name="summarise_document")
            by_uri = await session.complete(summarise, {"name": "uri", "value": "orgkb://documents/handbook/it"})
            assert by_uri.completion.values == ["orgkb://documents/handbook/it/vpn.md"]
            by_title = await session.complete(summarise, {"name": "uri", "value": "travel"})
            assert by_title.completion.values == ["orgkb://documents/handbook/policies/travel.md"]
            answer_source = await session.complete(PromptReference(name="answer_with_citations"), {"name": "source", "value": ""})
            assert answer_source.completion.values == ["handbook"]

    anyio.run(scenario)


def test_read_only_server_has_no_reindex_and_uses_configured_texts(workspace: Path) -> None:
    custom = write_config(
        workspace.parent / "custom.toml",
        [{"name": "handbook", "type": "files", "paths": [str(workspace.parent / "docs")]}],
        server={
            "read_only": True,
            "instructions": "Use orgkb for Brightwater questions only.",
            "tool_descriptions": {"search": "Find Brightwater passages."},
        },
    )

    async def scenario() -> None:
        async with serve(custom, "--no-sync", "--no-warm-up") as session:
            assert session.initialize_result.instructions == "Use orgkb for Brightwater questions only."
            tools = {t.name: t for t in (await session.list_tools()).tools}
            assert set(tools) == {"search", "fetch", "list_sources"}
            assert tools["search"].description == "Find Brightwater passages."
            assert tools["fetch"].description.startswith("Read an indexed document")
            status = await read_status(session)
            assert status["live_sync"] is False and status["sources"][0]["documents"] >= len(DOCS)
        async with serve(workspace, "--read-only", "--no-sync", "--no-warm-up") as session:
            assert "reindex" not in {t.name for t in (await session.list_tools()).tools}

    anyio.run(scenario)
