"""A third-party MCP extension: a `register(server, service)` function (used by test_mcp_extensions).

Its handlers reach the index only through the caller's view, like orgkb's own.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context, MCPServer

from orgkb.server.app.service import OrgkbService
from orgkb.server.mcp.support import caller_of


def register(server: MCPServer[Any], service: OrgkbService) -> None:
    """Add one tool and one fixed resource."""

    @server.tool(name="count_sources", title="Count sources")
    def count_sources(ctx: Context) -> int:
        return len(caller_of(ctx).sources)

    @server.resource("orgkb://example/schema", name="schema", mime_type="text/plain")
    def schema() -> str:
        return "example schema"
