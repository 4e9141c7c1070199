"""Argument completion (`completion/complete`) for source names and document uris.

Completes the document template's ``source`` and ``key``, the summary prompt's ``uri`` and
the answer prompt's ``source``, only within the caller's sources (the values come from the
caller's view of the service).
"""

from __future__ import annotations

from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp_types import CompleteRequestParams, CompleteResult, Completion, PromptReference, ResourceTemplateReference

from orgkb.connectors.identifiers import DOCUMENT_TEMPLATE
from orgkb.server.app.caller import CallerView
from orgkb.server.mcp.prompts import ANSWER_PROMPT, SUMMARY_PROMPT
from orgkb.server.mcp.support import caller_of_request, in_thread, lowlevel

MAX_VALUES = 100  # the protocol's limit per response


def complete(params: CompleteRequestParams, caller: CallerView) -> Completion:
    """The completion for one request (empty when the argument is not one we complete)."""
    ref, name, value = params.ref, params.argument.name, params.argument.value
    known = dict(params.context.arguments or {}) if params.context else {}
    values: list[str] = []
    if isinstance(ref, ResourceTemplateReference) and ref.uri == DOCUMENT_TEMPLATE:
        if name == "source":
            values = caller.complete_sources(value)
        elif name == "key":
            values = caller.complete_keys(known.get("source", ""), value, MAX_VALUES + 1)
    elif isinstance(ref, PromptReference):
        if ref.name == SUMMARY_PROMPT and name == "uri":
            values = caller.complete_document_uris(value, MAX_VALUES + 1)
        elif ref.name == ANSWER_PROMPT and name == "source":
            values = caller.complete_sources(value)
    more = len(values) > MAX_VALUES
    return Completion(values=values[:MAX_VALUES], total=None if more else len(values), has_more=more)


def register(server: MCPServer[Any]) -> None:
    """Serve `completion/complete` on ``server`` (the low-level handler sees who is asking)."""

    async def handle(ctx: ServerRequestContext[Any, Any], params: CompleteRequestParams) -> CompleteResult:
        completion = await in_thread(complete, params, caller_of_request(ctx))
        return CompleteResult(completion=completion)

    lowlevel(server).add_request_handler("completion/complete", CompleteRequestParams, handle)
