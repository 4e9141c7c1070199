"""What every MCP module shares: the server state, the caller's view, blocking work, the low-level server.

The SDK's lifespan yields an `OrgkbState` holding the application service; every handler
turns its request into the caller's `CallerView` with `caller_of` (tools, prompts and
template resources) or `caller_of_request` (low-level handlers), so no handler holds the
service, let alone the index, itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable
from typing import Any

import anyio
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ListToolsResult, PaginatedRequestParams, ToolAnnotations

from orgkb.server.app.access import access_of
from orgkb.server.app.caller import CallerView
from orgkb.server.app.service import OrgkbService
from orgkb.server.errors import OrgkbError

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)


@dataclass(frozen=True)
class OrgkbState:
    """What the server's lifespan yields: the application service."""

    service: OrgkbService


def caller_of(ctx: Context) -> CallerView:
    """The service as the client that sent a tool, prompt or resource request may use it."""
    request_context = ctx.request_context
    state: OrgkbState = request_context.lifespan_context
    return state.service.for_caller(access_of(request_context.request))


def caller_of_request(ctx: ServerRequestContext[Any, Any]) -> CallerView:
    """The service as the client that sent a low-level request may use it."""
    state: OrgkbState = ctx.lifespan_context
    return state.service.for_caller(access_of(ctx.request))


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


ToolsListEdit = Callable[[ServerRequestContext[Any, Any], ListToolsResult], ListToolsResult]


def edit_tools_list(server: MCPServer[Any], edit: ToolsListEdit) -> None:
    """Serve `tools/list` as the server did, then passed through ``edit`` (each call wraps the
    previous handler, so several edits apply in the order they were added)."""
    low = lowlevel(server)
    listing = low.get_request_handler("tools/list")
    if listing is None:
        raise RuntimeError("the SDK's MCPServer no longer serves tools/list; update orgkb.server.mcp.support")

    async def list_tools(ctx: ServerRequestContext[Any, Any], params: PaginatedRequestParams | None) -> ListToolsResult:
        return edit(ctx, await listing.handler(ctx, params))

    low.add_request_handler("tools/list", PaginatedRequestParams, list_tools)
