"""Problems reach the person: the server's current `Health` added to what a client sees.

A server middleware appends the problems to every tool result (as a last text block, so a model
reads them next to the answer; and to a structured result's `notices`, as search has) and to the
instructions of every `initialize`, so a client that starts orgkb with a broken config hears why
instead of "Connection closed".
"""

from __future__ import annotations

from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel

from orgkb.server.mcp.support import caller_of_request


async def problem_notices(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Server middleware: append the problems to `tools/call` results and to the `initialize` instructions."""
    result = await call_next(ctx)
    if ctx.method not in ("tools/call", "initialize"):
        return result
    # A token limited to some sources hears nothing about the others.
    health = caller_of_request(ctx).health()
    notice = health.notice() if health is not None else None
    if notice is None or health is None:
        return result
    if ctx.method == "tools/call":
        lines = [p.line() for p in health.problems]
        if isinstance(result, CallToolResult):
            structured = result.structured_content
            if isinstance(structured, dict) and ("hits" in structured or isinstance(structured.get("notices"), list)):
                # A search result (whose lean form leaves out empty notices) carries them in its own field.
                structured = {**structured, "notices": [*(structured.get("notices") or []), *lines]}
            content = [*result.content, TextContent(text=notice)]
            return result.model_copy(update={"content": content, "structured_content": structured})
        if isinstance(result, dict) and isinstance(result.get("content"), list):
            result["content"].append({"type": "text", "text": notice})
            structured = result.get("structuredContent")
            if isinstance(structured, dict) and ("hits" in structured or isinstance(structured.get("notices"), list)):
                structured["notices"] = [*(structured.get("notices") or []), *lines]
    elif ctx.method == "initialize":
        if isinstance(result, dict):
            result["instructions"] = f"{result.get('instructions') or ''}\n\n{notice}".strip()
        elif isinstance(result, BaseModel) and hasattr(result, "instructions"):
            text = f"{getattr(result, 'instructions') or ''}\n\n{notice}".strip()
            return result.model_copy(update={"instructions": text})
    return result
