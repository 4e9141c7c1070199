"""Small helpers the MCP modules share: running blocking work, reaching the low-level server."""

from __future__ import annotations

from typing import Any

import anyio
from mcp.server.lowlevel.server import Server
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from orgkb.server.errors import OrgkbError


async def in_thread(function: Any, *args: Any, **kwargs: Any) -> Any:
    """Run blocking work in a worker thread, errors unchanged."""
    return await anyio.to_thread.run_sync(lambda: function(*args, **kwargs))


async def blocking(function: Any, *args: Any, **kwargs: Any) -> Any:
    """Run blocking index work in a worker thread; turn user-facing errors into tool errors."""
    try:
        return await in_thread(function, *args, **kwargs)
    except OrgkbError as exc:
        raise ToolError(str(exc)) from None


def lowlevel(server: MCPServer[Any]) -> Server[Any]:
    """The low-level server under an `MCPServer`, for handlers MCPServer does not expose.

    `MCPServer` decides `resources/list` (no pagination), has no `resources/subscribe` and no
    completion handler with request context; the low-level `add_request_handler` does. The SDK
    keeps the attribute private (its own in-memory client reads it the same way).
    """
    return server._lowlevel_server  # noqa: SLF001
