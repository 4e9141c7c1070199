"""The MCP server: search, fetch and list_sources tools, and documents as resources.

Start-up is kept to the SDK's own cost: the model, torch and Chroma load in a background
thread that starts once the server runs, so `initialize` never waits for them. Tool calls run
blocking work in worker threads so the event loop keeps answering.
"""

import importlib
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp_types import CallToolResult, ResourceLink, TextContent, ToolAnnotations
from pydantic import Field, ValidationError

from connectors.base import MetadataValue
from server.errors import OrgkbError
from server.filters import SearchFilters
from server.knowledge import KnowledgeIndex
from server.search import SearchHit, SearchMode, SearchResponse
from server.service import DEFAULT_FETCH_CHARS, FetchedDocument, KnowledgeService, SourceList

log = logging.getLogger(__name__)

DEFAULT_INSTRUCTIONS = (
    "orgkb gives grounded access to this organisation's own knowledge: its file shares, wikis and "
    "databases. Use `search` whenever a question may be answered by internal documents (policies, "
    "procedures, runbooks, products, people, systems) rather than general knowledge. Cite every "
    "claim with the `uri` of the hit it comes from. Use `fetch` (or read the `resource_uri`) to read "
    "a whole document when a passage is not enough. If the results do not answer the question, say "
    "so instead of guessing. `list_sources` shows what is indexed."
)

TOOL_DESCRIPTIONS = {
    "search": (
        "Search the organisation's indexed documents (files, wikis, databases). Returns the most "
        "relevant passages, each with a citable `uri`, its title, section and location. Prefer "
        "specific queries; narrow with `sources`, `path_prefix`, `file_types` or dates when known."
    ),
    "fetch": (
        "Read an indexed document's text by a hit's `resource_uri`, its `uri`, or its `doc_id`. "
        "Long documents come in windows: call again with `offset = next_offset`."
    ),
    "list_sources": "List the configured sources with how many documents each has and when it last synced.",
}

# Modules that add tools/resources for one concern; each has `register(server, service)`.
EXTENSION_MODULES: list[str] = ["server.mcp_sql"]

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)


def render_hits(response: SearchResponse) -> str:
    """Search results as readable text for models that ignore structured content."""
    if not response.hits:
        return f"No results for {response.query!r}."
    blocks = []
    for number, hit in enumerate(response.hits, start=1):
        blocks.append(f"[{number}] {hit.citation}\nscore {hit.score:.3f} · read: {hit.resource_uri}\n{hit.text}")
    return "\n\n".join(blocks)


def _links(hits: list[SearchHit]) -> list[ResourceLink]:
    seen: dict[str, ResourceLink] = {}
    for hit in hits:
        if hit.resource_uri not in seen:
            seen[hit.resource_uri] = ResourceLink(
                uri=hit.resource_uri, name=hit.doc_id, title=hit.title, description=hit.uri, mime_type="text/plain"
            )
    return list(seen.values())


def build_server(service: KnowledgeService, *, warm_up: bool = True) -> MCPServer[Any]:
    """An MCP server over ``service``. ``warm_up`` loads the model in the background at start."""
    config = service.index.config
    descriptions = {**TOOL_DESCRIPTIONS, **config.server.tool_descriptions}

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[dict[str, Any]]:
        if warm_up:
            threading.Thread(target=service.warm_up, name="orgkb-warm-up", daemon=True).start()
        yield {}

    server: MCPServer[Any] = MCPServer(
        name=config.server.name,
        title="orgkb: organisation knowledge",
        instructions=config.server.instructions or DEFAULT_INSTRUCTIONS,
        version=_version(),
        lifespan=lifespan,
        log_level="WARNING",
    )

    @server.tool(name="search", title="Search organisation knowledge", description=descriptions["search"], annotations=READ_ONLY)
    async def search(
        query: Annotated[str, Field(min_length=1, max_length=2000, description="What to look for, in natural language or keywords.")],
        limit: Annotated[int, Field(ge=1, le=config.search.max_limit, description="Most passages to return.")] = config.search.default_limit,
        mode: Annotated[SearchMode, Field(description="hybrid (default), semantic (meaning) or keyword (exact words).")] = "hybrid",
        sources: Annotated[list[str] | None, Field(description="Only these sources (see list_sources).")] = None,
        path_prefix: Annotated[str | None, Field(description="Only documents whose path/key starts with this.")] = None,
        file_types: Annotated[list[str] | None, Field(description='Only these types, e.g. ["pdf", "md"].')] = None,
        modified_after: Annotated[datetime | None, Field(description="Only documents modified at/after (ISO 8601).")] = None,
        modified_before: Annotated[datetime | None, Field(description="Only documents modified before (ISO 8601).")] = None,
        metadata: Annotated[dict[str, MetadataValue] | None, Field(description="Only documents with these metadata values.")] = None,
    ) -> SearchResponse:
        unknown = sorted(set(sources or []) - {s.name for s in config.sources})
        if unknown:
            raise ToolError(f"unknown source(s): {', '.join(unknown)}; known: {', '.join(s.name for s in config.sources)}")
        try:
            filters = SearchFilters(
                sources=sources,
                path_prefix=path_prefix,
                file_types=file_types,
                modified_after=modified_after,
                modified_before=modified_before,
                metadata=metadata,
            )
        except ValidationError as exc:
            raise ToolError(f"invalid filter: {exc.errors()[0]['msg']}") from None
        response = await blocking(service.searcher.search, query, limit=limit, mode=mode, filters=filters)
        content: list[Any] = [TextContent(text=render_hits(response)), *_links(response.hits)]
        return CallToolResult(content=content, structured_content=response.model_dump(mode="json"))  # type: ignore[return-value]

    @server.tool(name="fetch", title="Read a document", description=descriptions["fetch"], annotations=READ_ONLY)
    async def fetch(
        uri: Annotated[str, Field(min_length=1, description="A hit's resource_uri (orgkb://...), uri, or doc_id.")],
        offset: Annotated[int, Field(ge=0, description="Character offset to start from.")] = 0,
        max_chars: Annotated[int, Field(ge=100, le=200_000, description="Most characters to return.")] = DEFAULT_FETCH_CHARS,
    ) -> FetchedDocument:
        document = await blocking(service.fetch, uri, offset, max_chars)
        header = f"{document.title} <{document.uri}>"
        if document.truncated:
            header += f"\n(characters {document.offset}-{document.next_offset} of {document.total_chars}; more follows)"
        content = [TextContent(text=f"{header}\n\n{document.text}")]
        return CallToolResult(content=content, structured_content=document.model_dump(mode="json"))  # type: ignore[return-value]

    @server.tool(name="list_sources", title="List indexed sources", description=descriptions["list_sources"], annotations=READ_ONLY)
    async def list_sources() -> SourceList:
        return await blocking(service.list_sources)

    @server.resource(
        "orgkb://documents/{source}/{+key}",
        name="document",
        title="Indexed document",
        description="The text of an indexed document, as cited by search results.",
        mime_type="text/plain",
    )
    async def read_document(source: str, key: str) -> str:
        try:
            document = await blocking(service.fetch, f"orgkb://documents/{source}/{key}", 0, 10**9)
        except ToolError as exc:
            raise ResourceError(str(exc)) from None
        return f"# {document.title}\nSource: {document.uri}\n\n{document.text}"

    for module_name in EXTENSION_MODULES:
        importlib.import_module(module_name).register(server, service)
    return server


async def blocking(function: Any, *args: Any, **kwargs: Any) -> Any:
    """Run blocking index work in a worker thread; turn user-facing errors into tool errors."""
    try:
        return await anyio.to_thread.run_sync(lambda: function(*args, **kwargs))
    except OrgkbError as exc:
        raise ToolError(str(exc)) from None


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("orgkb")
    except PackageNotFoundError:
        return "0"


def create_service(index: KnowledgeIndex) -> KnowledgeService:
    """The service the server wraps (a seam for tests that inject an index)."""
    return KnowledgeService(index)
