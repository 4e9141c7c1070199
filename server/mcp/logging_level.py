"""`logging/setLevel`: the logging capability, and the level each session asked for.

The server sends `notifications/message` (reindex progress notes), and the 2025-11-25
specification says a server that does must declare the `logging` capability; the SDK declares
it once a `logging/setLevel` handler exists. A client's level holds for its session; messages
below it are not sent. Without a request the level is "info".
"""

from __future__ import annotations

import weakref
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp_types import EmptyResult, LoggingLevel, SetLevelRequestParams

from orgkb.server.mcp.support import lowlevel

# RFC 5424 severities, least severe first, as the MCP specification orders them.
LEVELS: tuple[LoggingLevel, ...] = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
DEFAULT_LEVEL: LoggingLevel = "info"

_levels: weakref.WeakKeyDictionary[Any, LoggingLevel] = weakref.WeakKeyDictionary()


def enabled(session: Any, level: LoggingLevel) -> bool:
    """Whether ``session`` asked for messages at ``level`` (or lower levels)."""
    wanted = _levels.get(session, DEFAULT_LEVEL) if session is not None else DEFAULT_LEVEL
    return LEVELS.index(level) >= LEVELS.index(wanted)


def register(server: MCPServer[Any]) -> None:
    """Serve `logging/setLevel` (which also declares the `logging` capability)."""

    async def set_level(ctx: ServerRequestContext[Any, Any], params: SetLevelRequestParams) -> EmptyResult:
        _levels[ctx.session] = params.level
        return EmptyResult()

    lowlevel(server).add_request_handler("logging/setLevel", SetLevelRequestParams, set_level)
