"""Tool argument errors as one line a model can act on.

The SDK reports arguments that fail validation with pydantic's multi-line text (the rejected
input repeated, a documentation link per error). This serves `tools/call` through the SDK's
own handler, but first validates the arguments the same way the SDK will, and answers a
mismatch with ``invalid arguments for search: limit: Input should be a valid integer (got
"many")`` instead.
"""

from __future__ import annotations

from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolRequestParams, CallToolResult, TextContent
from pydantic import ValidationError

from orgkb.server.mcp.support import lowlevel

_SHOWN_INPUT_CHARS = 40


def one_line_errors(tool: str, error: ValidationError) -> str:
    """``invalid arguments for TOOL: field: message (got value); ...``."""
    parts = []
    for item in error.errors(include_url=False):
        where = ".".join(str(p) for p in item["loc"]) or "arguments"
        message = item["msg"]
        if item["type"] != "missing" and not isinstance(item.get("input"), dict):
            shown = repr(item.get("input"))
            message += f" (got {shown if len(shown) <= _SHOWN_INPUT_CHARS else shown[:_SHOWN_INPUT_CHARS] + '…'})"
        parts.append(f"{where}: {message}")
    return f"invalid arguments for {tool}: " + "; ".join(parts)


def register(server: MCPServer[Any]) -> None:
    """Check `tools/call` arguments first and report a mismatch in one line."""
    low = lowlevel(server)
    calling = low.get_request_handler("tools/call")
    if calling is None:
        raise RuntimeError("the SDK's MCPServer no longer serves tools/call; update mcp.arguments")
    # MCPServer keeps its tools private; the SDK's own `_tool_input_schema` reads them the same way.
    tools = server._tool_manager  # noqa: SLF001

    async def call_tool(ctx: ServerRequestContext[Any, Any], params: CallToolRequestParams) -> Any:
        tool = tools.get_tool(params.name)
        if tool is not None:
            try:
                tool.fn_metadata.validate_arguments(params.arguments or {})
            except ValidationError as exc:
                return CallToolResult(content=[TextContent(text=one_line_errors(params.name, exc))], is_error=True)
        return await calling.handler(ctx, params)

    low.add_request_handler("tools/call", CallToolRequestParams, call_tool)
