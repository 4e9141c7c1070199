"""Extension modules still plug into the server: their tools and fixed resources are served."""

from __future__ import annotations

from pathlib import Path

import anyio
from mcp import Client

from orgkb.server.mcp import app as mcp_app
from orgkb.server.embedding.embedder import HashingEmbedder
from orgkb.server.index.indexer import Indexer
from orgkb.server.app.service import OrgkbService
from tests import extension_example
from tests.conftest import IndexFactory


def test_extension_tools_and_resources_are_served(tmp_path: Path, make_index: IndexFactory) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# A\n\nText.\n")
    index = make_index([{"name": "docs", "type": "files", "paths": [str(docs)]}], HashingEmbedder())
    Indexer(index).run()
    server = mcp_app.build_server(OrgkbService(index), warm_up=False, extensions=[extension_example.register])

    async def scenario() -> None:
        async with Client(server, mode="legacy") as client:
            assert "count_sources" in {t.name for t in (await client.list_tools()).tools}
            assert (await client.call_tool("count_sources", {})).structured_content == {"result": 1}
            listed = [r.uri for r in (await client.list_resources()).resources]
            assert listed == ["orgkb://status", "orgkb://example/schema", "orgkb://documents/docs/a.md"]
            assert (await client.read_resource("orgkb://example/schema")).contents[0].text == "example schema"

    anyio.run(scenario)
