"""`orgkb serve --transport http` with the real model: tokens, Origin checks, source-limited tokens,
live notifications over HTTP for both protocol eras."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client, ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import PromptReference, ResourceTemplateReference

from orgkb.server.config import load_config
from orgkb.server.embedding.embedder import Embedder
from orgkb.server.index.indexer import Indexer
from orgkb.server.index.knowledge import KnowledgeIndex
from tests.conftest import orgkb_command, subprocess_env, write_config
from tests.mcp_helpers import http_server, Notifications, all_resources, hit_doc_id, read_status, wait_for_catch_up

FULL_TOKEN = "full-access-token-for-tests-1f6b2c"
HANDBOOK_TOKEN = "handbook-only-token-for-tests-9d04e7"
SECRET = "The salary band for grade 7 engineers is 91,500 zorkmids per year."
HR_URI = "orgkb://documents/hr/salaries.md"
HANDBOOK_URI = "orgkb://documents/handbook/expenses.md"
INIT = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
MCP_HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


# The 2025-era `resources/subscribe` is what Claude Desktop and the Inspector use: tested on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:resources/subscribe is removed")

@dataclass
class RunningServer:
    url: str
    docs: Path
    hr: Path
    process: subprocess.Popen[str]
    log: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, real_embedder: Embedder) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("http")
    docs, hr = root / "handbook", root / "hr"
    docs.mkdir()
    hr.mkdir()
    (docs / "expenses.md").write_text("# Expense policy\n\nExpenses over 40 EUR need your department head's approval.\n")
    (docs / "vpn.md").write_text("# VPN\n\nInstall the WireGuard client from the IT portal.\n")
    (hr / "salaries.md").write_text(f"# Salary bands\n\n{SECRET}\n")
    config = write_config(
        root / "orgkb.toml",
        [{"name": "handbook", "type": "files", "paths": [str(docs)]}, {"name": "hr", "type": "files", "paths": [str(hr)]}],
        **{
            "server.live": {"debounce_seconds": 0.3},
            "server.http": {
                "tokens": [{"name": "handbook-reader", "token_env": "ORGKB_TEST_HANDBOOK_TOKEN", "sources": ["handbook"]}],
            },
        },
    )
    index = KnowledgeIndex(load_config(config), embedder=real_embedder)
    assert Indexer(index).run().total("added") == 3
    index.close()
    env = subprocess_env(ORGKB_HTTP_TOKEN=FULL_TOKEN, ORGKB_TEST_HANDBOOK_TOKEN=HANDBOOK_TOKEN)
    with http_server(config, env, "--port", "0") as started:
        yield RunningServer(url=started.url, docs=docs, hr=hr, process=started.process, log=started.log)
    running = started
    assert FULL_TOKEN not in "".join(running.log) and HANDBOOK_TOKEN not in "".join(running.log)


@asynccontextmanager
async def session(url: str, token: str, **client: Any) -> AsyncIterator[ClientSession]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(30, read=120)) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write, **client) as connected,
    ):
        await connected.initialize()
        yield connected


def test_requests_without_a_valid_token_or_from_a_foreign_origin_are_refused(server: RunningServer) -> None:
    with httpx.Client(timeout=30) as http:
        for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": FULL_TOKEN}, {"authorization": f"Basic {FULL_TOKEN}"}):
            refused = http.post(server.url, json=INIT, headers={**MCP_HEADERS, **headers})
            assert refused.status_code == 401 and refused.content == b"", headers
            assert refused.headers["www-authenticate"].startswith("Bearer")
        assert http.get(server.url.replace("/mcp", "/anything")).status_code == 401
        foreign = http.post(server.url, json=INIT, headers={**MCP_HEADERS, "authorization": f"Bearer {FULL_TOKEN}", "origin": "http://evil.example"})
        assert foreign.status_code == 403
        local = http.post(server.url, json=INIT, headers={**MCP_HEADERS, "authorization": f"Bearer {FULL_TOKEN}", "origin": "http://localhost:6274"})
        assert local.status_code == 200 and '"orgkb"' in local.text
        # A session belongs to the token that opened it.
        session_id = local.headers["mcp-session-id"]
        ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
        stolen = http.post(server.url, json=ping, headers={**MCP_HEADERS, "authorization": f"Bearer {HANDBOOK_TOKEN}", "mcp-session-id": session_id})
        assert stolen.status_code == 404


def test_listening_beyond_loopback_needs_a_token(tmp_path: Path) -> None:
    config = write_config(tmp_path / "orgkb.toml", [])
    env = subprocess_env()
    env.pop("ORGKB_HTTP_TOKEN", None)
    result = subprocess.run(
        orgkb_command("--config", str(config), "serve", "--transport", "http", "--host", "0.0.0.0", "--port", "0", "--no-sync"),
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert result.returncode == 2
    assert "refusing to listen on 0.0.0.0 without a token" in result.stderr and "Traceback" not in result.stderr


def test_full_token_searches_everything_and_gets_live_updates(server: RunningServer) -> None:
    async def scenario() -> None:
        notes = Notifications()
        async with session(server.url, FULL_TOKEN, message_handler=notes) as connected:
            await wait_for_catch_up(connected)
            hits = (await connected.call_tool("search", {"query": "salary band grade 7"})).structured_content["hits"]
            assert hit_doc_id(hits[0]) == "hr:salaries.md"
            await connected.subscribe_resource(HANDBOOK_URI)
            mark = notes.mark()
            (server.docs / "expenses.md").write_text("# Expense policy\n\nExpenses over 75 EUR need your department head's approval.\n")
            await notes.wait_for("notifications/resources/updated", HANDBOOK_URI, since=mark)
            assert "75 EUR" in (await connected.read_resource(HANDBOOK_URI)).contents[0].text
            mark = notes.mark()
            (server.docs / "wifi.md").write_text("# Guest wifi\n\nThe guest network password rotates every Monday.\n")
            await notes.wait_for("notifications/resources/list_changed", since=mark)
            found = await connected.call_tool("search", {"query": "how often does the guest network password change"})
            assert hit_doc_id(found.structured_content["hits"][0]) == "handbook:wifi.md"
            (server.docs / "wifi.md").unlink()
            await notes.wait_for("notifications/resources/list_changed", since=notes.mark())
            assert "orgkb://documents/handbook/wifi.md" not in {r.uri for r in await all_resources(connected)}

    anyio.run(scenario)


def test_2026_clients_listen_for_changes_within_their_sources(server: RunningServer) -> None:
    async def scenario() -> None:
        for token, refused in ((HANDBOOK_TOKEN, True), (FULL_TOKEN, False)):
            http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(30, read=120))
            async with http, Client(streamable_http_client(server.url, http_client=http), mode="auto") as client:
                assert client.protocol_version == "2026-07-28"
                if refused:
                    with pytest.raises(MCPError, match="unknown resource"):
                        async with client.listen(resource_subscriptions=[HR_URI]):
                            pass
                    continue
                async with client.listen(resource_subscriptions=[HR_URI]) as subscription:
                    (server.hr / "salaries.md").write_text(f"# Salary bands\n\n{SECRET}\n\nReviewed every April.\n")
                    with anyio.fail_after(30):
                        event = await subscription.__anext__()
                    assert getattr(event, "uri", None) == HR_URI
                assert "Reviewed every April" in (await client.read_resource(HR_URI)).contents[0].text

    anyio.run(scenario)


def test_a_limited_token_never_sees_another_source(server: RunningServer) -> None:
    async def scenario() -> None:
        async with session(server.url, HANDBOOK_TOKEN) as limited:
            for mode in ("keyword", "semantic", "hybrid"):
                # The query matches both sources, so an empty answer cannot pass for a filtered one.
                query = f"{SECRET} What about expenses?"
                result = await limited.call_tool("search", {"query": query, "mode": mode, "limit": 50})
                assert result.structured_content["hits"], mode  # the handbook still answers
                assert all(h["source"] == "handbook" for h in result.structured_content["hits"]), mode
                assert "zorkmids" not in str(result.content)
            asked = await limited.call_tool("search", {"query": "salary", "sources": ["hr"]})
            assert asked.is_error and "unknown source" in asked.content[0].text and "hr" not in asked.content[0].text.split("known:")[1]
            for reference in (HR_URI, "hr:salaries.md", (server.hr / "salaries.md").as_uri()):
                fetched = await limited.call_tool("fetch", {"uri": reference})
                assert fetched.is_error and "no indexed document" in fetched.content[0].text, reference
            with pytest.raises(MCPError, match="no indexed document"):
                await limited.read_resource(HR_URI)
            with pytest.raises(MCPError, match="unknown resource"):
                await limited.subscribe_resource(HR_URI)
            listed = {r.uri for r in await all_resources(limited)}
            assert HANDBOOK_URI in listed and not any("/hr/" in uri for uri in listed)
            sources = (await limited.call_tool("list_sources", {})).structured_content["sources"]
            assert [s["name"] for s in sources] == ["handbook"]
            status = await read_status(limited)
            assert [s["name"] for s in status["sources"]] == ["handbook"] and "zorkmids" not in str(status)
            template = ResourceTemplateReference(uri="orgkb://documents/{source}/{+key}")
            assert (await limited.complete(template, {"name": "source", "value": ""})).completion.values == ["handbook"]
            keys = await limited.complete(template, {"name": "key", "value": ""}, context_arguments={"source": "hr"})
            assert keys.completion.values == []
            uris = await limited.complete(PromptReference(name="summarise_document"), {"name": "uri", "value": "salar"})
            assert uris.completion.values == []
            every = await limited.complete(PromptReference(name="summarise_document"), {"name": "uri", "value": "orgkb://documents/"})
            assert every.completion.values and all(v.startswith("orgkb://documents/handbook/") for v in every.completion.values)
            prompt = await limited.get_prompt("answer_with_citations", {"question": SECRET})
            passages = [m.content.resource for m in prompt.messages if m.content.type == "resource"]
            assert passages and all("/handbook/" in p.uri and "zorkmids" not in p.text for p in passages)
            with pytest.raises(MCPError, match="no indexed document"):
                await limited.get_prompt("summarise_document", {"uri": HR_URI})
            with pytest.raises(MCPError, match="unknown source"):
                await limited.get_prompt("answer_with_citations", {"question": "salary", "source": "hr"})
            reindex = await limited.call_tool("reindex", {"source": "hr"})
            assert reindex.is_error and "unknown source" in reindex.content[0].text

    anyio.run(scenario)
