"""Documents as MCP resources: a paginated listing, reads through a template, subscriptions,
and the index status as a JSON resource.

`resources/list` pages over the catalog's documents in id order; the cursor is the last id
of the previous page, so a document added or removed between pages never shifts the others.
Each client sees only the sources its access allows.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    Annotations,
    EmptyResult,
    ListResourcesResult,
    PaginatedRequestParams,
    ReadResourceRequestParams,
    ReadResourceResult,
    Resource,
    SubscribeRequestParams,
    TextResourceContents,
    UnsubscribeRequestParams,
)

from orgkb.connectors.identifiers import (
    DOCUMENT_TEMPLATE,
    STATUS_URI,
    document_uri,
    document_uri_from_template,
    schema_uri,
    source_of_uri,
)
from orgkb.server.app.caller import CallerView
from orgkb.server.app.service import OrgkbService
from orgkb.server.errors import OrgkbError
from orgkb.server.mcp.notify import SessionHub
from orgkb.server.mcp.support import caller_of, caller_of_request, in_thread, lowlevel
from orgkb.server.store.records import StoredDocument

DOCUMENT_MIME = "text/markdown"  # reads render the indexed text with Markdown headings


def document_resource(document: StoredDocument) -> Resource:
    """The listing entry of an indexed document."""
    stamp = document.modified if document.modified is not None else document.indexed_at
    return Resource(
        uri=document_uri(document.source, document.key),
        name=document.doc_id,
        title=document.title,
        description=f"{document.title} ({document.source}) <{document.uri}>",
        mime_type=DOCUMENT_MIME,
        annotations=Annotations(last_modified=datetime.fromtimestamp(stamp, tz=UTC).isoformat()),
        _meta={"orgkb/source": document.source, "orgkb/citationUri": document.uri, "orgkb/originalMimeType": document.mime_type},
    )


def encode_cursor(after: str) -> str:
    """An opaque cursor for the page after document id ``after``."""
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode()


def decode_cursor(cursor: str) -> str:
    """The document id a cursor continues after; `MCPError` for a cursor we did not make."""
    try:
        after = json.loads(base64.urlsafe_b64decode(cursor.encode()))["after"]
    except (ValueError, KeyError, TypeError):
        raise MCPError(INVALID_PARAMS, "invalid cursor: pass the nextCursor of the previous page") from None
    if not isinstance(after, str):
        raise MCPError(INVALID_PARAMS, "invalid cursor: pass the nextCursor of the previous page")
    return after


def register(server: MCPServer[Any], service: OrgkbService, hub: SessionHub) -> None:
    """Add document resources, the status resource and subscriptions to ``server``."""
    page_size = service.server_settings.page_size
    low = lowlevel(server)

    @server.resource(
        DOCUMENT_TEMPLATE,
        name="document",
        title="Indexed document",
        description="The text of an indexed document, as cited by search results (`resource_uri`).",
        mime_type=DOCUMENT_MIME,
    )
    async def read_document(source: str, key: str, ctx: Context) -> str:
        try:
            document = await in_thread(caller_of(ctx).read_document, document_uri_from_template(source, key))
        except OrgkbError as exc:
            raise ResourceError(str(exc)) from None
        return f"# {document.title}\nSource: {document.uri}\n\n{document.text}"

    async def list_resources(ctx: ServerRequestContext[Any, Any], params: PaginatedRequestParams | None) -> ListResourcesResult:
        cursor = params.cursor if params is not None else None
        after = decode_cursor(cursor) if cursor else None
        caller = caller_of_request(ctx)
        documents = await in_thread(caller.list_documents, after=after, limit=page_size + 1)
        resources: list[Resource] = []
        if after is None:
            # The first page also carries fixed resources: the status, the caller's database
            # listings, and any an extension module added (orgkb:// ones only if visible).
            resources.append(status_resource())
            resources.extend(database_resource(name) for name in caller.database_sources())
            resources.extend(r for r in await server.list_resources() if _visible_fixed(str(r.uri), caller))
        resources.extend(document_resource(d) for d in documents[:page_size])
        next_cursor = encode_cursor(documents[page_size - 1].doc_id) if len(documents) > page_size else None
        return ListResourcesResult(resources=resources, next_cursor=next_cursor)

    document_reader = low.get_request_handler("resources/read")  # MCPServer's: documents via the template
    if document_reader is None:
        raise RuntimeError("the SDK's MCPServer no longer serves resources/read; update mcp.resources")

    async def read_resource(ctx: ServerRequestContext[Any, Any], params: ReadResourceRequestParams) -> Any:
        if str(params.uri) != STATUS_URI:
            return await document_reader.handler(ctx, params)
        status = await in_thread(caller_of_request(ctx).status)
        text = status.model_dump_json(indent=2)
        return ReadResourceResult(contents=[TextResourceContents(uri=STATUS_URI, mime_type="application/json", text=text)])

    async def subscribe(ctx: ServerRequestContext[Any, Any], params: SubscribeRequestParams) -> EmptyResult:
        uri = str(params.uri)
        if not caller_of_request(ctx).may_see_uri(uri):
            raise MCPError(INVALID_PARAMS, f"unknown resource: {uri}")
        client = hub.client(ctx)
        if client is None:
            raise MCPError(INVALID_REQUEST, "resources/subscribe needs a session; use subscriptions/listen")
        client.uris.add(uri)
        return EmptyResult()

    async def unsubscribe(ctx: ServerRequestContext[Any, Any], params: UnsubscribeRequestParams) -> EmptyResult:
        client = hub.client(ctx)
        if client is not None:
            client.uris.discard(str(params.uri))
        return EmptyResult()

    low.add_request_handler("resources/list", PaginatedRequestParams, list_resources)
    low.add_request_handler("resources/read", ReadResourceRequestParams, read_resource)
    low.add_request_handler("resources/subscribe", SubscribeRequestParams, subscribe)
    low.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, unsubscribe)


def _visible_fixed(uri: str, caller: CallerView) -> bool:
    """A fixed resource an extension added: shown unless it belongs to a source the caller may not see."""
    return source_of_uri(uri) is None or caller.may_see_uri(uri)


def database_resource(source: str) -> Resource:
    """The listing entry of a database source's table listing."""
    return Resource(
        uri=schema_uri(source),
        name=f"{source}-tables",
        title=f"Tables of {source}",
        description=f"The tables and views of the database source {source}, with comments.",
        mime_type="text/plain",
    )


def status_resource() -> Resource:
    """The listing entry of the index status resource."""
    return Resource(
        uri=STATUS_URI,
        name="status",
        title="Index status",
        description="Per source: documents, chunks, last sync, errors, failures, and live sync state (JSON).",
        mime_type="application/json",
    )
