"""An extension module as `server.mcp_app.EXTENSION_MODULES` loads them (used by test_mcp_extensions)."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer

from orgkb.server.app.service import KnowledgeService


def register(server: MCPServer[Any], service: KnowledgeService) -> None:
    """Add one tool and one fixed resource."""

    @server.tool(name="count_sources", title="Count sources")
    def count_sources() -> int:
        return len(service.index.config.sources)

    @server.resource("orgkb://example/schema", name="schema", mime_type="text/plain")
    def schema() -> str:
        return "example schema"
