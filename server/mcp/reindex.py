"""The `reindex` tool: sync one source (or all) now, with progress notifications and log messages.

Left out entirely when the server is read-only. The sync runs through the server's
`LiveIndex`, after any background sync in progress, in a worker thread; progress hops back to
the event loop at most a few times a second.
"""

# No `from __future__ import annotations`: the SDK reads the tool signature at runtime.

import logging
import time
import warnings
from typing import Annotated, Any

import anyio
import anyio.from_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp_types import CallToolResult, LoggingLevel, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from orgkb.server.mcp import logging_level as mcp_logging
from orgkb.server.errors import OrgkbError
from orgkb.server.index.indexer import SourceSummary
from orgkb.server.mcp.support import caller_of

log = logging.getLogger(__name__)

# Changes the index, not the sources; running it twice leaves the same index; it reads the
# sources themselves (wikis, shares, databases), which are outside the server.
REINDEX = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=True)
PROGRESS_INTERVAL = 0.25


class ReindexResult(BaseModel):
    """What a reindex did, per source."""

    ok: bool = Field(description="True when every source synced (single documents may still have failed).")
    sources: list[SourceSummary]


async def client_log(ctx: Context, level: LoggingLevel, message: str) -> None:
    """Send a log message to the client.

    The 2026-07-28 protocol deprecates server logging (its clients opt in per request), but
    it is how 2025-era clients such as the MCP Inspector show what a long call is doing.
    """
    if not mcp_logging.enabled(ctx.request_context.session, level):
        return  # below the level the client set with logging/setLevel
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MCPDeprecationWarning)
        await ctx.log(level, message, logger_name="orgkb.reindex")


class ToolProgress:
    """An indexer `Progress` that reports to an MCP client from the syncing thread."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.done = 0
        self._last_sent = 0.0
        self._last_value = -1.0

    def next_value(self) -> float:
        """Documents handled so far, nudged so every notification's progress increases (the spec's rule)."""
        self._last_value = max(float(self.done), self._last_value + 0.001)
        return round(self._last_value, 3)

    def _send(self, message: str, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_sent < PROGRESS_INTERVAL:
            return
        self._last_sent = now
        try:
            anyio.from_thread.run(self.ctx.report_progress, self.next_value(), None, message)
        except Exception as exc:  # noqa: BLE001 - a client that went away must not fail the sync
            log.debug("progress not delivered: %s", exc)

    def start_source(self, source: str) -> None:
        self._send(f"{source}: listing documents", force=True)

    def advance(self, source: str, documents: int, detail: str) -> None:
        self.done += documents
        self._send(f"{source}: {detail}")

    def end_source(self, summary: SourceSummary) -> None:
        try:
            anyio.from_thread.run(client_log, self.ctx, "warning" if summary.error else "info", describe(summary))
        except Exception as exc:  # noqa: BLE001 - as above
            log.debug("log message not delivered: %s", exc)


def describe(summary: SourceSummary) -> str:
    """One line about a source's sync."""
    if summary.error:
        return f"{summary.source}: not synced: {summary.error}"
    return (f"{summary.source}: {summary.added} added, {summary.updated} updated, {summary.deleted} deleted, "
            f"{summary.unchanged} unchanged, {summary.failed} failed ({summary.chunks_embedded} chunks embedded, "
            f"{summary.seconds:.1f}s)")


def register(server: MCPServer[Any], description: str) -> None:
    """Add the `reindex` tool to ``server``."""

    @server.tool(name="reindex", title="Re-index sources now", description=description, annotations=REINDEX)
    async def reindex(
        ctx: Context,
        source: Annotated[str | None, Field(description="Only this source (see list_sources); all when absent.")] = None,
        full: Annotated[bool, Field(description="Re-read every document, ignoring change feeds and version stamps, to reconcile deletions; still embeds only changed content.")] = False,
    ) -> ReindexResult:
        caller = caller_of(ctx)
        if source is None or caller.may_see_source(source):  # an unknown one is refused by reindex below
            await client_log(ctx, "info", f"reindexing {source or ', '.join(caller.sources) or 'nothing'}{' (full)' if full else ''}")
        progress = ToolProgress(ctx)
        try:
            summary = await anyio.to_thread.run_sync(lambda: caller.reindex([source] if source else None, full=full, progress=progress))
        except OrgkbError as exc:
            raise ToolError(str(exc)) from None
        final = progress.next_value()
        await ctx.report_progress(final, final, "done")
        result = ReindexResult(ok=summary.ok, sources=summary.sources)
        text = "\n".join(describe(s) for s in summary.sources) or "no sources to reindex"
        return CallToolResult(  # type: ignore[return-value]
            content=[TextContent(text=text)], structured_content=result.model_dump(mode="json"), is_error=not summary.ok
        )
