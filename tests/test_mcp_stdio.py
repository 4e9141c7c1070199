"""A real MCP client session over stdio against `orgkb serve`, with the real model and Chroma."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.conftest import PROJECT_ROOT, orgkb_command, subprocess_env, write_config
from tests.mcp_helpers import hit_doc_id


@pytest.fixture(scope="module")
def indexed_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mcp")
    docs = root / "docs"
    (docs / "policies").mkdir(parents=True)
    (docs / "policies" / "expenses.md").write_text(
        "# Expense policy\n\n## Limits\n\nMeals are reimbursed up to 40 EUR per day.\n\n"
        "## Approval\n\nExpenses over the limit must be approved by your department head.\n",
        encoding="utf-8",
    )
    (docs / "vpn.html").write_text(
        "<html><head><title>VPN setup</title></head><body><h1>VPN setup</h1>"
        "<p>Install the WireGuard client, then import the profile from the IT portal.</p></body></html>",
        encoding="utf-8",
    )
    config = write_config(root / "orgkb.toml", [{"name": "handbook", "type": "files", "paths": [str(docs)]}])
    subprocess.run(orgkb_command("--config", str(config), "index"), check=True, env=subprocess_env(), capture_output=True)
    return config


def _run(coro_fn, *args):  # type: ignore[no-untyped-def]
    return anyio.run(coro_fn, *args)


async def _session_checks(config: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "orgkb.server", "--config", str(config), "serve"],
        env=subprocess_env(), cwd=str(PROJECT_ROOT),
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        init = await session.initialize()
        assert init.server_info.name == "orgkb"
        assert "cite" in (init.instructions or "").lower()

        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        assert {"search", "fetch", "list_sources"} <= set(tools)
        for tool in tools.values():
            assert tool.output_schema is not None, tool.name
            assert tool.annotations is not None
            # Every tool reads only, except reindex (tested in test_mcp_live.py), which updates the index.
            assert tool.annotations.read_only_hint is (tool.name != "reindex"), tool.name

        result = await session.call_tool("search", {"query": "who approves expenses over the limit", "limit": 3})
        assert not result.is_error
        hits = result.structured_content["hits"]
        top = hits[0]
        assert top["title"] == "Expense policy"
        assert top["section"].endswith("Approval")
        assert top["uri"].startswith("file://") and top["uri"].endswith("policies/expenses.md")
        assert top["location"]["lines"][0] == 9
        assert "department head" in top["text"]
        text_blocks = [c for c in result.content if c.type == "text"]
        links = [c for c in result.content if c.type == "resource_link"]
        assert "department head" in text_blocks[0].text and top["uri"] in text_blocks[0].text
        assert links[0].uri == top["resource_uri"]

        read = await session.read_resource(top["resource_uri"])
        assert "Meals are reimbursed up to 40 EUR" in read.contents[0].text

        for reference in (top["uri"], top["resource_uri"], hit_doc_id(top)):
            fetched = await session.call_tool("fetch", {"uri": reference})
            assert not fetched.is_error, reference
            assert "department head" in fetched.structured_content["text"]

        window = await session.call_tool("fetch", {"uri": top["resource_uri"], "max_chars": 100})
        assert window.structured_content["truncated"] is True
        assert window.structured_content["next_offset"] == 100

        missing = await session.call_tool("fetch", {"uri": "orgkb://documents/handbook/nope.md"})
        assert missing.is_error and "no indexed document" in missing.content[0].text

        bad = await session.call_tool("search", {"query": "vpn", "limit": "many"})
        assert bad.is_error and "limit" in bad.content[0].text

        unknown = await session.call_tool("search", {"query": "vpn", "sources": ["wiki"]})
        assert unknown.is_error and "unknown source" in unknown.content[0].text

        filtered = await session.call_tool("search", {"query": "setup", "file_types": ["html"]})
        assert [hit_doc_id(h) for h in filtered.structured_content["hits"]] == ["handbook:vpn.html"]

        sources = (await session.call_tool("list_sources", {})).structured_content["sources"]
        assert sources[0]["name"] == "handbook" and sources[0]["documents"] == 2

        templates = (await session.list_resource_templates()).resource_templates
        assert any(t.uri_template.startswith("orgkb://documents/") for t in templates)


def test_stdio_session_search_read_and_fetch(indexed_config: Path) -> None:
    _run(_session_checks, indexed_config)


def test_stdout_carries_only_protocol_messages(indexed_config: Path) -> None:
    """Anything but JSON-RPC on stdout breaks clients; logs must go to stderr."""
    import json

    request = '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}\n'
    process = subprocess.run(
        orgkb_command("--config", str(indexed_config), "-vv", "serve"),
        input=request, capture_output=True, text=True, env=subprocess_env(), timeout=120,
    )
    lines = [line for line in process.stdout.splitlines() if line.strip()]
    assert lines, process.stderr
    for line in lines:
        assert json.loads(line)["jsonrpc"] == "2.0"
