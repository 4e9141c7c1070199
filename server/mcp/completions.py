"""Argument completion (`completion/complete`) for source names and document uris.

Completes the document template's ``source`` and ``key``, the summary prompt's ``uri`` and
the answer prompt's ``source``, from the catalog and only within the caller's sources.
"""

from __future__ import annotations

from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp_types import CompleteRequestParams, CompleteResult, Completion, PromptReference, ResourceTemplateReference

from orgkb.connectors.identifiers import DOCUMENT_TEMPLATE, doc_id, doc_id_prefix_of_uri, document_uri
from orgkb.server.app.access import Access, access_of
from orgkb.server.mcp.prompts import ANSWER_PROMPT, SUMMARY_PROMPT
from orgkb.server.mcp.support import in_thread, lowlevel
from orgkb.server.app.service import KnowledgeService

MAX_VALUES = 100  # the protocol's limit per response


class Completer:
    """Completion values for one service, limited to what an `Access` may see."""

    def __init__(self, service: KnowledgeService) -> None:
        self.service = service
        self.configured = [s.name for s in service.index.config.sources]

    def complete(self, params: CompleteRequestParams, access: Access) -> Completion:
        """The completion for one request (empty when the argument is not one we complete)."""
        ref, name, value = params.ref, params.argument.name, params.argument.value
        known = dict(params.context.arguments or {}) if params.context else {}
        if isinstance(ref, ResourceTemplateReference) and ref.uri == DOCUMENT_TEMPLATE:
            if name == "source":
                return self.sources(value, access)
            if name == "key":
                return self.keys(known.get("source", ""), value, access)
        if isinstance(ref, PromptReference):
            if ref.name == SUMMARY_PROMPT and name == "uri":
                return self.document_uris(value, access)
            if ref.name == ANSWER_PROMPT and name == "source":
                return self.sources(value, access)
        return Completion(values=[])

    def sources(self, prefix: str, access: Access) -> Completion:
        """Source names starting with ``prefix``."""
        return _completion([n for n in access.visible(self.configured) if n.lower().startswith(prefix.lower())])

    def keys(self, source: str, prefix: str, access: Access) -> Completion:
        """Document keys of ``source`` starting with ``prefix``."""
        if source not in access.visible(self.configured):
            return Completion(values=[])
        documents = self.service.index.catalog.list_documents(
            sources=[source], prefix=doc_id(source, prefix), limit=MAX_VALUES + 1
        )
        return _completion([d.key for d in documents])

    def document_uris(self, value: str, access: Access) -> Completion:
        """Document resource uris: by uri prefix, or by text in a document's key or title."""
        catalog = self.service.index.catalog
        visible = access.visible(self.configured) if access.limited else None
        prefix = doc_id_prefix_of_uri(value)
        if prefix is not None:
            documents = [
                d for d in catalog.list_documents(sources=visible, limit=MAX_VALUES * 5 + 1, prefix=prefix)
                if document_uri(d.source, d.key).startswith(value)
            ]
        else:
            documents = catalog.list_documents(sources=visible, contains=value, limit=MAX_VALUES + 1)
        return _completion([document_uri(d.source, d.key) for d in documents])


def _completion(values: list[str]) -> Completion:
    return Completion(values=values[:MAX_VALUES], total=None if len(values) > MAX_VALUES else len(values),
                      has_more=len(values) > MAX_VALUES)


def register(server: MCPServer[Any], service: KnowledgeService) -> None:
    """Serve `completion/complete` on ``server`` (the low-level handler sees who is asking)."""
    completer = Completer(service)

    async def complete(ctx: ServerRequestContext[Any, Any], params: CompleteRequestParams) -> CompleteResult:
        completion = await in_thread(completer.complete, params, access_of(ctx.request))
        return CompleteResult(completion=completion)

    lowlevel(server).add_request_handler("completion/complete", CompleteRequestParams, complete)
